"""Thresholded multi-label metrics and single-label (one class per album) metrics."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from sklearn import metrics as skm

from hiergenre.metrics.ranking import check_targets


def precision_recall_f1(
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float = 0.5,
    average: Literal["micro", "macro"] = "micro",
) -> dict[str, float]:
    """Precision, recall and F1 of `scores >= threshold` against (N, K) multi-hot targets
    (scikit-learn's, `zero_division=0`): `micro` pools all pairs; `macro` averages over all K.

    >>> precision_recall_f1(np.array([[1, 0], [1, 1]]), np.array([[.9, .6], [.2, .8]]))
    {'precision': 0.6666666666666666, 'recall': 0.6666666666666666, 'f1': 0.6666666666666666}
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro', not {average!r}")
    y, s = check_targets(y_true, scores)
    p, r, f, _ = skm.precision_recall_fscore_support(
        y.astype(np.int64), (s >= threshold).astype(np.int64), average=average, zero_division=0
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None) -> int:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must both be (N,)")
    top = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if min(y_true.min(initial=0), y_pred.min(initial=0)) < 0:
        raise ValueError("class labels must be >= 0; drop albums without a class (-1) first")
    if n_classes is not None and top > n_classes:
        raise ValueError(f"a class label is >= n_classes={n_classes}")
    return n_classes if n_classes is not None else top


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts: row = true class, column = predicted class.

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    n = _check_labels(y_true, y_pred, n_classes)
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(n)).astype(np.int64)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of albums whose predicted class is the true class (NaN without albums).

    >>> accuracy(np.array([0, 1, 2]), np.array([0, 1, 1]))
    0.6666666666666666
    """
    _check_labels(y_true, y_pred, None)
    return float(skm.accuracy_score(y_true, y_pred)) if len(y_true) else float("nan")


def balanced_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None
) -> float:
    """Mean recall over the classes present in `y_true` (scikit-learn's balanced accuracy).

    A majority-class predictor scores 1 / (number of true classes).

    >>> balanced_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]))
    0.5
    """
    _check_labels(y_true, y_pred, n_classes)
    if not len(y_true):
        return float("nan")
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true" is expected
        warnings.simplefilter("ignore", UserWarning)
        return float(skm.balanced_accuracy_score(y_true, y_pred))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> float:
    """Mean F1 over classes that occur in `y_true` or `y_pred` (scikit-learn's macro F1).

    >>> macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    0.7333333333333334
    """
    _check_labels(y_true, y_pred, n_classes)
    if not len(y_true):
        return float("nan")
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
