"""Thresholded and single-label metrics against scikit-learn and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import hiergenre.metrics as hm


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("average", ["micro", "macro"])
def test_precision_recall_f1_matches_sklearn(seed, average):
    rng = np.random.default_rng(seed)
    y = (rng.random((30, 6)) < 0.3).astype(int)
    y[:, 0] = 0  # a label with no positives (and, below, no predictions): 0/0 counts as 0
    s = np.round(rng.random((30, 6)), 1)
    s[:, 0] = 0.1
    ours = hm.precision_recall_f1(y, s, threshold=0.5, average=average)
    pred = (s >= 0.5).astype(int)
    kw = {"average": average, "zero_division": 0}
    assert ours["precision"] == pytest.approx(skm.precision_score(y, pred, **kw), abs=1e-6)
    assert ours["recall"] == pytest.approx(skm.recall_score(y, pred, **kw), abs=1e-6)
    assert ours["f1"] == pytest.approx(skm.f1_score(y, pred, **kw), abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_single_label_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 5, size=50)
    y_pred = np.where(rng.random(50) < 0.4, y_true, rng.integers(0, 6, size=50))  # 5 never true
    y_true[y_true == 3] = 2  # class 3 only ever predicted
    cm = hm.confusion_matrix(y_true, y_pred, 7)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=range(7)))
    assert hm.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    with pytest.warns(UserWarning):  # sklearn warns about predicted classes never true
        expected = skm.balanced_accuracy_score(y_true, y_pred)
    assert hm.balanced_accuracy(y_true, y_pred, 7) == pytest.approx(expected, abs=1e-6)
    assert hm.macro_f1(y_true, y_pred, 7) == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro"), abs=1e-6
    )


def test_hand_examples():
    y_true, y_pred = np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0])
    assert hm.accuracy(y_true, y_pred) == 0.75
    assert hm.balanced_accuracy(y_true, y_pred) == 0.5  # the majority trap
    assert hm.macro_f1(y_true, y_pred) == pytest.approx((6 / 7 + 0) / 2)
    assert hm.confusion_matrix(y_true, y_pred, 3).tolist() == [[3, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert hm.precision_recall_f1(np.array([[1, 0]]), np.array([[0.5, 0.49]])) == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="n_classes"):
        hm.confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match=">= 0"):
        hm.accuracy(np.array([0, -1]), np.array([0, 1]))
