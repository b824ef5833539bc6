"""Calibration metrics by hand and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

import hiergenre.metrics as hm


def test_ece_hand_examples():
    # perfectly calibrated: 4 pairs at 0.25 confidence, one positive
    y = np.array([[1, 0], [0, 0]])
    assert hm.expected_calibration_error(y, np.full((2, 2), 0.25), n_bins=4) == 0.0
    # top-1: confidences 0.9 (right) and 0.6 (wrong) land in different bins of 10
    probs = np.array([[0.9, 0.1], [0.4, 0.6]])
    got = hm.expected_calibration_error(np.array([0, 0]), probs, n_bins=10, mode="top1")
    assert got == pytest.approx((0.1 + 0.6) / 2)
    # the same two in one bin: mean confidence 0.75 vs accuracy 0.5
    got = hm.expected_calibration_error(np.array([0, 0]), probs, n_bins=1, mode="top1")
    assert got == pytest.approx(0.25)


def test_brier_matches_sklearn_and_hand():
    rng = np.random.default_rng(0)
    y = (rng.random((20, 4)) < 0.3).astype(int)
    p = rng.random((20, 4))
    assert hm.brier_score(y, p) == pytest.approx(brier_score_loss(y.ravel(), p.ravel()))
    assert hm.brier_score(np.array([1]), np.array([[0.0, 1.0]]), mode="top1") == 0.0
    assert hm.brier_score(np.array([0]), np.array([[0.0, 1.0]]), mode="top1") == 2.0


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        hm.brier_score(np.zeros((1, 1)), np.zeros((1, 1)), mode="x")
