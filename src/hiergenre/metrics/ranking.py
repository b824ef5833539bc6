"""Multi-label ranking metrics: AUROC and AUPRC, per label, micro and macro, vectorised.

Every label column is sorted once (one argsort over a (K, N) array); tied scores form one step,
exactly as in scikit-learn's `roc_auc_score` and `average_precision_score`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Average = Literal["micro", "macro"]


def check_targets(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (N, K) {0,1} target matrix and (N, K) finite scores; return (bool, float64)."""
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim == 1:
        y, s = y[:, None], s.reshape(-1, 1)
    if y.ndim != 2 or y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and scores {s.shape} must both be (N, K)")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinity; drop those rows or labels first")
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    return y.astype(bool, copy=False), s


def _per_label_curves(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUROC, AP) per column of bool y (N, K) and float s (N, K); NaN where undefined."""
    n, k = y.shape
    order = np.argsort(-s.T, axis=1)  # (K, N), descending; order within ties does not matter
    flat = (order * k + np.arange(k)[:, None]).ravel()  # positions in the row-major (N, K) arrays
    ys = y.ravel()[flat]
    ss = s.ravel()[flat].reshape(k, n)
    is_end = np.ones((k, n), dtype=bool)  # last sorted position of each tie group, per column
    is_end[:, :-1] = ss[:, 1:] != ss[:, :-1]
    ends = np.flatnonzero(is_end)  # groups never cross columns: a column's last item ends one
    cum = np.cumsum(ys, dtype=np.int64)
    pos_g = np.diff(cum[ends], prepend=0)
    size_g = np.diff(ends, prepend=-1)
    col_g, rank_g = np.divmod(ends, n)
    rank_g += 1  # items of the column ranked at or above the group's end
    col_cum = cum[n - 1 :: n]
    pos = (col_cum - np.r_[0, col_cum[:-1]]).astype(np.float64)
    neg = n - pos
    hit = pos_g > 0  # only groups holding positives add to either sum
    pos_g, size_g, col_g, rank_g = pos_g[hit], size_g[hit], col_g[hit], rank_g[hit]
    tp_g = cum[ends[hit]] - np.r_[0, col_cum][col_g]
    fp_g = rank_g - tp_g
    # Mann-Whitney with half credit for ties == the trapezoidal ROC area sklearn computes.
    beaten = pos_g * (neg[col_g] - fp_g + 0.5 * (size_g - pos_g))
    precision = pos_g * tp_g / rank_g  # every positive of a group gets the precision at its end
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = np.bincount(col_g, weights=beaten, minlength=k) / (pos * neg)
        ap = np.bincount(col_g, weights=precision, minlength=k) / pos
    auroc[(pos == 0) | (neg == 0)] = np.nan
    ap[pos == 0] = np.nan
    return auroc, ap


def _pooled_curves(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """(AUROC, AP) of all pairs pooled, from one sort and binary searches of the positives."""
    everything = np.sort(s, axis=None)
    positives = np.sort(s[y], axis=None)
    n_pos, n_neg = positives.size, everything.size - positives.size
    if n_pos == 0:
        return float("nan"), float("nan")
    below_all = np.searchsorted(everything, positives, "left")
    tied_all = np.searchsorted(everything, positives, "right") - below_all
    below_pos = np.searchsorted(positives, positives, "left")
    tied_pos = np.searchsorted(positives, positives, "right") - below_pos
    ap = float(np.mean((n_pos - below_pos) / (everything.size - below_all)))
    if n_neg == 0:
        return float("nan"), ap
    beaten = (below_all - below_pos) + 0.5 * (tied_all - tied_pos)
    return float(beaten.sum() / (n_pos * n_neg)), ap


def per_label_auroc(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each label column, (K,); NaN for a label without positives or without negatives.

    >>> y = np.array([[1, 0], [0, 0], [1, 1]])
    >>> per_label_auroc(y, np.array([[.9, .1], [.2, .5], [.2, .7]]))
    array([0.75, 1.  ])
    """
    return _per_label_curves(*check_targets(y_true, scores))[0]


def per_label_auprc(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision of each label column (sklearn's step definition), (K,); NaN if no positive.

    A label with no negatives scores 1.0 (defined, but `macro` averages skip it).

    >>> per_label_auprc(np.array([[1], [0], [1]]), np.array([[.9], [.5], [.2]]))
    array([0.83333333])
    """
    return _per_label_curves(*check_targets(y_true, scores))[1]


def macro_label_mask(y_true: np.ndarray) -> np.ndarray:
    """Labels that macro averages use: at least one positive AND one negative, (K,) bool."""
    y = np.asarray(y_true).astype(bool)
    pos = y.sum(axis=0)
    return (pos > 0) & (pos < y.shape[0])


def _average(per_label: np.ndarray, mask: np.ndarray) -> float:
    return float(per_label[mask].mean()) if mask.any() else float("nan")


def auroc(y_true: np.ndarray, scores: np.ndarray, average: Average = "micro") -> float:
    """AUROC of (N, K) multi-label scores: `micro` pools all N x K pairs (the poster's number);
    `macro` is the mean over labels with a positive and a negative (Oramas); others are skipped.

    >>> auroc(np.array([[1, 0], [0, 1]]), np.array([[.8, .3], [.4, .6]]), "micro")
    1.0
    """
    y, s = check_targets(y_true, scores)
    if average == "micro":
        return _pooled_curves(y, s)[0]
    if average == "macro":
        return _average(_per_label_curves(y, s)[0], macro_label_mask(y))
    raise ValueError(f"average must be 'micro' or 'macro', not {average!r}")


def auprc(y_true: np.ndarray, scores: np.ndarray, average: Average = "micro") -> float:
    """Average precision (area under the PR step curve, identical to sklearn's
    `average_precision_score`); `micro` and `macro` as in `auroc`, over the same labels.

    >>> auprc(np.array([[1, 0], [0, 1]]), np.array([[.8, .3], [.4, .6]]), "micro")
    1.0
    """
    y, s = check_targets(y_true, scores)
    if average == "micro":
        return _pooled_curves(y, s)[1]
    if average == "macro":
        return _average(_per_label_curves(y, s)[1], macro_label_mask(y))
    raise ValueError(f"average must be 'micro' or 'macro', not {average!r}")


def ranking_report(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float | int | np.ndarray]:
    """Micro and macro AUROC / AUPRC plus per-label arrays, sorting each column only once.

    Returns keys `micro_auroc`, `micro_auprc`, `macro_auroc`, `macro_auprc`, `macro_labels_used`
    (labels with a positive and a negative), `labels_skipped`, `per_label_auroc`, `per_label_auprc`.
    """
    y, s = check_targets(y_true, scores)
    per_roc, per_ap = _per_label_curves(y, s)
    micro_roc, micro_ap = _pooled_curves(y, s)
    mask = macro_label_mask(y)
    return {
        "micro_auroc": micro_roc,
        "micro_auprc": micro_ap,
        "macro_auroc": _average(per_roc, mask),
        "macro_auprc": _average(per_ap, mask),
        "macro_labels_used": int(mask.sum()),
        "labels_skipped": int((~mask).sum()),
        "per_label_auroc": per_roc,
        "per_label_auprc": per_ap,
    }


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Micro precision-recall curve over all pairs, as sklearn's `precision_recall_curve` of the
    flattened arrays: (precision, recall, thresholds), thresholds increasing, a final (1, 0) point.

    >>> p, r, t = pr_curve(np.array([[1], [0]]), np.array([[.9], [.1]]))
    >>> p.tolist(), r.tolist(), t.tolist()
    ([0.5, 1.0, 1.0], [1.0, 1.0, 0.0], [0.1, 0.9])
    """
    y, s = check_targets(y_true, scores)
    y, s = y.ravel(), s.ravel()
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    ends = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])
    tp = np.cumsum(ys, dtype=np.int64)[ends]
    predicted = ends + 1.0
    precision = tp / predicted
    recall = tp / tp[-1] if tp.size and tp[-1] > 0 else np.ones_like(precision)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], ss[ends][::-1]
