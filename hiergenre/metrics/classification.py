"""Thresholded multi-label metrics and single-label (one class per album) metrics."""

from __future__ import annotations

from typing import Literal

import numpy as np

from hiergenre.metrics.ranking import check_targets


def precision_recall_f1(
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float = 0.5,
    average: Literal["micro", "macro"] = "micro",
) -> dict[str, float]:
    """Precision, recall and F1 of `scores >= threshold` against (N, K) multi-hot targets.

    `micro` pools all pairs; `macro` averages per-label values over ALL K labels, a 0/0 counting as
    0 (sklearn's `zero_division=0`), so it equals `sklearn.metrics.f1_score(..., average="macro")`.

    >>> precision_recall_f1(np.array([[1, 0], [1, 1]]), np.array([[.9, .6], [.2, .8]]))
    {'precision': 0.6666666666666666, 'recall': 0.6666666666666666, 'f1': 0.6666666666666666}
    """
    y, s = check_targets(y_true, scores)
    pred = s >= threshold
    axis = None if average == "micro" else 0
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro', not {average!r}")
    tp = np.sum(y & pred, axis=axis, dtype=np.float64)
    n_pred = np.sum(pred, axis=axis, dtype=np.float64)
    n_true = np.sum(y, axis=axis, dtype=np.float64)
    precision = _safe_divide(tp, n_pred)
    recall = _safe_divide(tp, n_true)
    f1 = _safe_divide(2 * tp, n_pred + n_true)
    return {"precision": float(np.mean(precision)), "recall": float(np.mean(recall)),
            "f1": float(np.mean(f1))}  # fmt: skip


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


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
    flat = np.asarray(y_true, dtype=np.int64) * n + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n * n).reshape(n, n)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of albums whose predicted class is the true class.

    >>> accuracy(np.array([0, 1, 2]), np.array([0, 1, 1]))
    0.6666666666666666
    """
    _check_labels(y_true, y_pred, None)
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")


def balanced_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None
) -> float:
    """Mean recall over the classes present in `y_true` (as sklearn's `balanced_accuracy_score`).

    A majority-class predictor scores 1 / (number of true classes).

    >>> balanced_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]))
    0.5
    """
    cm = confusion_matrix(y_true, y_pred, _check_labels(y_true, y_pred, n_classes))
    support = cm.sum(axis=1)
    present = support > 0
    return (
        float(np.mean(np.diag(cm)[present] / support[present])) if present.any() else float("nan")
    )


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> float:
    """Mean F1 over classes that occur in `y_true` or `y_pred` (sklearn's `f1_score` macro default).

    >>> macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    0.7333333333333334
    """
    cm = confusion_matrix(y_true, y_pred, _check_labels(y_true, y_pred, n_classes))
    tp = np.diag(cm).astype(np.float64)
    n_true, n_pred = cm.sum(axis=1), cm.sum(axis=0)
    seen = (n_true + n_pred) > 0
    f1 = _safe_divide(2 * tp, n_true + n_pred)
    return float(f1[seen].mean()) if seen.any() else float("nan")
