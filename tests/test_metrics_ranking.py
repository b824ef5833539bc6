"""Ranking metrics against scikit-learn, on random data with ties and on hand examples."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from sklearn import metrics as skm

import hiergenre.metrics as hm
from hiergenre.metrics import calibration, classification, hierarchical, ranking


def _random_case(seed: int, n: int = 60, k: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot targets with an all-negative and an all-positive label; scores with many ties."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < rng.uniform(0.02, 0.5, size=k)).astype(np.int64)
    y[2, 3:], y[3, 3:] = 1, 0  # every other label has a positive and a negative
    y[:, 0] = 0
    y[:, 1] = 1
    y[0, 2], y[1:, 2] = 1, 0  # a single positive
    scores = np.round(rng.random((n, k)) * 0.6 + 0.4 * y * rng.random((n, k)), 1)
    return y, scores


@pytest.mark.parametrize("seed", range(6))
def test_per_label_matches_sklearn_with_ties(seed):
    y, s = _random_case(seed)
    roc, ap = hm.per_label_auroc(y, s), hm.per_label_auprc(y, s)
    assert np.isnan(roc[0]) and np.isnan(roc[1]) and np.isnan(ap[0]) and ap[1] == 1.0
    for k in range(2, y.shape[1]):
        assert roc[k] == pytest.approx(skm.roc_auc_score(y[:, k], s[:, k]), abs=1e-6)
        assert ap[k] == pytest.approx(skm.average_precision_score(y[:, k], s[:, k]), abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_micro_and_macro_match_sklearn(seed):
    y, s = _random_case(seed)
    used = hm.macro_label_mask(y)
    assert used.tolist()[:2] == [False, False] and used[2:].all()
    assert hm.auroc(y, s, "micro") == pytest.approx(skm.roc_auc_score(y, s, average="micro"))
    assert hm.auprc(y, s, "micro") == pytest.approx(
        skm.average_precision_score(y, s, average="micro"), abs=1e-6
    )
    assert hm.auroc(y, s, "macro") == pytest.approx(
        skm.roc_auc_score(y[:, used], s[:, used], average="macro"), abs=1e-6
    )
    assert hm.auprc(y, s, "macro") == pytest.approx(
        skm.average_precision_score(y[:, used], s[:, used], average="macro"), abs=1e-6
    )
    report = hm.ranking_report(y, s)
    assert report["macro_labels_used"] == y.shape[1] - 2 and report["labels_skipped"] == 2
    assert report["micro_auroc"] == hm.auroc(y, s, "micro")
    assert report["macro_auprc"] == hm.auprc(y, s, "macro")


def test_hand_examples():
    # one positive tied with one of two negatives: it beats one, ties one -> 0.75
    y = np.array([[1], [0], [0]])
    s = np.array([[0.5], [0.5], [0.1]])
    assert hm.per_label_auroc(y, s)[0] == 0.75
    # AP: the tie group {0, 1} ends at precision 1/2, the only positive gets it
    assert hm.per_label_auprc(y, s)[0] == 0.5
    # everything tied: AUROC 0.5, AP = prevalence
    y4 = np.array([[1], [0], [1], [0]])
    assert hm.per_label_auroc(y4, np.full((4, 1), 0.3))[0] == 0.5
    assert hm.per_label_auprc(y4, np.full((4, 1), 0.3))[0] == 0.5
    # perfectly reversed ranking
    assert hm.per_label_auroc(y4, np.array([[0.1], [0.9], [0.2], [0.8]]))[0] == 0.0


def test_constant_per_label_scores_give_macro_half_but_high_micro():
    """The prior baseline's trap: per-label constants carry no ranking within a label."""
    rng = np.random.default_rng(3)
    prevalence = 0.3 * np.arange(1, 41, dtype=float) ** -1.2  # long tail over 40 labels
    y = (rng.random((400, 40)) < prevalence).astype(int)
    y[0] = 1  # every label has a positive
    scores = np.broadcast_to(y.mean(axis=0), y.shape)
    assert hm.auroc(y, scores, "macro") == 0.5
    assert hm.auroc(y, scores, "micro") > 0.75


def test_pr_curve_matches_sklearn():
    y, s = _random_case(1)
    precision, recall, thresholds = hm.pr_curve(y, s)
    sk_p, sk_r, sk_t = skm.precision_recall_curve(y.ravel(), s.ravel())
    np.testing.assert_allclose(precision, sk_p)
    np.testing.assert_allclose(recall, sk_r)
    np.testing.assert_allclose(thresholds, sk_t)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="must both be"):
        hm.auroc(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        hm.auroc(np.zeros((2, 1)), np.array([[np.nan], [0.1]]))
    with pytest.raises(ValueError, match="only 0 and 1"):
        hm.auroc(np.array([[2], [0]]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="average"):
        hm.auprc(np.array([[1], [0]]), np.zeros((2, 1)), "weighted")


@pytest.mark.parametrize("module", [ranking, classification, hierarchical, calibration])
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"np": np})
    assert result.failed == 0 and result.attempted > 0
