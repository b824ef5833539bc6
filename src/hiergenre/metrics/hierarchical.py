"""Taxonomy-aware metrics over node indices in taxonomy order.

They take the taxonomy's numpy matrices rather than the taxonomy itself, so they stay pure:
`ancestry = taxonomy.ancestry_array()` with `ancestry[i, j]` true iff j is i or an ancestor of i,
`lca_heights = taxonomy.lca_height_matrix()`, `parent_index = taxonomy.parent_index` and
`levels = taxonomy.levels`. The artificial root is not a node, so it never counts as a hit.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from hiergenre.metrics.ranking import auroc


def close_under_ancestors(multi_hot: np.ndarray, ancestry: np.ndarray) -> np.ndarray:
    """Add every ancestor of each set node: bool (N, M) from (N, M) {0,1} and ancestry (M, M).

    >>> anc = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], bool)  # node 1 is a child of node 0
    >>> close_under_ancestors(np.array([[0, 1, 0]]), anc).astype(int).tolist()
    [[1, 1, 0]]
    """
    x = np.asarray(multi_hot, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != ancestry.shape[0]:
        raise ValueError(f"multi-hot {x.shape} must be (N, {ancestry.shape[0]})")
    return (x @ np.asarray(ancestry, dtype=np.float32)) > 0


def _as_multi_hot(x: np.ndarray, num_nodes: int) -> np.ndarray:
    """Node indices (N,) become one-hot rows; (N, M) multi-hot passes through. -1 = no node."""
    x = np.asarray(x)
    if x.ndim == 2:
        return x
    out = np.zeros((x.shape[0], num_nodes), dtype=bool)
    rows = np.flatnonzero(x >= 0)
    out[rows, x[rows]] = True
    return out


def hierarchical_prf(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    ancestry: np.ndarray,
    average: Literal["micro", "sample"] = "micro",
) -> dict[str, float]:
    """Kiritchenko's hierarchical precision, recall and F1 (`hP`, `hR`, `hF`).

    With B_i the true and A_i the predicted node set of album i, both closed under ancestors:
    `micro` gives hP = sum|A&B| / sum|A| and hR = sum|A&B| / sum|B|, hF their harmonic mean;
    `sample` averages per-album hP_i, hR_i and hF_i (sklearn's `average="samples"` style).
    Empty sets: a ratio with a zero denominator is 0 (an album with nothing predicted has hP_i = 0),
    and hF = 0 when hP + hR = 0. Inputs are (N, M) multi-hot or (N,) node indices (-1 = nothing).

    >>> anc = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], bool)  # 0 -> 1 is parent -> child
    >>> hierarchical_prf(np.array([1]), np.array([2]), anc)  # true {0, 1}, predicted {2}
    {'hP': 0.0, 'hR': 0.0, 'hF': 0.0}
    >>> hierarchical_prf(np.array([1]), np.array([0]), anc)  # true {0, 1}, predicted {0}
    {'hP': 1.0, 'hR': 0.5, 'hF': 0.6666666666666666}
    """
    m = ancestry.shape[0]
    true_sets = close_under_ancestors(_as_multi_hot(y_true, m), ancestry)
    pred_sets = close_under_ancestors(_as_multi_hot(y_pred, m), ancestry)
    both = (true_sets & pred_sets).sum(axis=1, dtype=np.float64)
    n_pred = pred_sets.sum(axis=1, dtype=np.float64)
    n_true = true_sets.sum(axis=1, dtype=np.float64)
    if average == "micro":
        hp, hr = _ratio(both.sum(), n_pred.sum()), _ratio(both.sum(), n_true.sum())
        return {"hP": hp, "hR": hr, "hF": _ratio(2 * hp * hr, hp + hr)}
    if average == "sample":
        hp_i = np.divide(both, n_pred, out=np.zeros_like(both), where=n_pred > 0)
        hr_i = np.divide(both, n_true, out=np.zeros_like(both), where=n_true > 0)
        den = hp_i + hr_i
        hf_i = np.divide(2 * hp_i * hr_i, den, out=np.zeros_like(den), where=den > 0)
        return {"hP": float(hp_i.mean()), "hR": float(hr_i.mean()), "hF": float(hf_i.mean())}
    raise ValueError(f"average must be 'micro' or 'sample', not {average!r}")


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def nodes_at_levels(ancestry: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(M + 1, L) int: column l-1 holds each node's ancestor-or-self at level l, -1 where the node
    is shallower; the extra last row (all -1) stands for "no node" (index -1)."""
    levels = np.asarray(levels)
    depth = int(levels.max()) if levels.size else 0
    out = np.full((ancestry.shape[0] + 1, depth), -1, dtype=np.int64)
    for lv in range(1, depth + 1):
        mask = np.asarray(ancestry, dtype=bool) & (levels == lv)[None, :]
        out[:-1, lv - 1] = np.where(mask.any(axis=1), mask.argmax(axis=1), -1)
    return out


def per_level_auroc(y_true: np.ndarray, scores: np.ndarray, levels: np.ndarray) -> dict[int, float]:
    """Micro AUROC over the (N, K) columns of each level; `levels` (K,) is each column's level."""
    levels = np.asarray(levels)
    y, s = np.asarray(y_true), np.asarray(scores)
    return {int(lv): auroc(y[:, levels == lv], s[:, levels == lv]) for lv in np.unique(levels)}


def full_path_accuracy(y_true: np.ndarray, y_pred: np.ndarray, ancestry: np.ndarray) -> float:
    """Share of albums whose predicted node set, closed under ancestors, equals the true closed
    set exactly. Inputs are (N, M) multi-hot or (N,) node indices.

    >>> anc = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], bool)
    >>> full_path_accuracy(np.array([1, 1]), np.array([1, 0]), anc)
    0.5
    """
    m = ancestry.shape[0]
    true_sets = close_under_ancestors(_as_multi_hot(y_true, m), ancestry)
    pred_sets = close_under_ancestors(_as_multi_hot(y_pred, m), ancestry)
    return float(np.all(true_sets == pred_sets, axis=1).mean())


def hierarchy_violation_rate(
    probs: np.ndarray, parent_index: np.ndarray, eps: float = 1e-6
) -> float:
    """Share of (album, parent-child edge) pairs with P(child) > P(parent) + eps.

    `probs` is (N, M) in taxonomy order; edges where either end is NaN (a node outside the
    model's label space, see `LabelSpace.to_nodes`) are left out; NaN when no edge is left.

    >>> hierarchy_violation_rate(np.array([[.9, .2, .5], [.1, .3, .5]]), np.array([-1, 0, -1]))
    0.5
    """
    p = np.asarray(probs, dtype=np.float64)
    child = np.flatnonzero(np.asarray(parent_index) >= 0)
    parent = np.asarray(parent_index)[child]
    pc, pp = p[:, child], p[:, parent]
    known = ~(np.isnan(pc) | np.isnan(pp))
    return float((pc > pp + eps)[known].mean()) if known.any() else float("nan")


def mistake_severity(
    true_idx: np.ndarray, pred_idx: np.ndarray, lca_heights: np.ndarray
) -> dict[str, float]:
    """Top-1 accuracy plus the mean LCA height of the WRONG top-1 predictions (Bertinetto et al.).

    Severity alone rewards a model that is rarely wrong in a bad way but often wrong: always read
    it with `accuracy`. `mistake_severity` is NaN when there is no mistake.

    >>> h = np.array([[0, 1, 2], [1, 0, 2], [2, 2, 0]])
    >>> mistake_severity(np.array([0, 0, 1]), np.array([0, 1, 2]), h)
    {'accuracy': 0.3333333333333333, 'mistake_severity': 1.5, 'n_mistakes': 2}
    """
    t, p = np.asarray(true_idx), np.asarray(pred_idx)
    wrong = t != p
    heights = np.asarray(lca_heights)[t[wrong], p[wrong]]
    return {
        "accuracy": float(np.mean(~wrong)) if t.size else float("nan"),
        "mistake_severity": float(heights.mean()) if heights.size else float("nan"),
        "n_mistakes": int(wrong.sum()),
    }


def level_scores(true_sets: np.ndarray, pred: np.ndarray, level_mask: np.ndarray) -> dict:
    """Accuracy and balanced accuracy at one level, over the albums labelled to that level.

    `true_sets` (N, M) bool, closed under ancestors; `pred` (N,) the predicted node at this level
    (-1: none named); `level_mask` (M,) the nodes of this level. A prediction is right when it is
    one of the album's true nodes at the level (an album may carry several: Rock and Pop). For the
    balanced accuracy each album counts in one class: the predicted node when it is right, else its
    true node with the most albums here; the score is the mean of the classes' hit rates.

    >>> true = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]], bool)
    >>> level_scores(true, np.array([0, 0, 0, 0, -1]), np.array([True, True, False]))
    {'albums': 4, 'accuracy': 0.75, 'balanced_accuracy': 0.5}
    """
    true_sets = np.asarray(true_sets, dtype=bool)
    cols = np.flatnonzero(level_mask)
    labelled = true_sets[:, cols].any(axis=1)
    n = int(labelled.sum())
    if n == 0:
        return {"albums": 0, "accuracy": float("nan"), "balanced_accuracy": float("nan")}
    truth = true_sets[labelled]
    p = np.asarray(pred)[labelled]
    hit = (p >= 0) & truth[np.arange(n), np.maximum(p, 0)]
    sub = truth[:, cols]
    most = np.argmax(sub * (sub.sum(axis=0) + 1)[None, :], axis=1)  # ties: the first column
    position = np.full(true_sets.shape[1], -1)
    position[cols] = np.arange(len(cols))
    cls = np.where(hit, position[np.maximum(p, 0)], most)
    recalls = [hit[cls == c].mean() for c in np.unique(cls)]
    balanced = float(np.mean(recalls))
    return {"albums": n, "accuracy": float(hit.mean()), "balanced_accuracy": balanced}


def depth_curve(hit: np.ndarray, confidence: np.ndarray, thresholds: np.ndarray) -> dict:
    """How often a model names a deeper node, and how often that node is right, per threshold.

    `hit` (N,) whether the node a model would name is right, `confidence` (N,) its probability;
    at threshold t the model names it when confidence >= t. Returns `threshold`, `named` (share
    of albums named) and `precision` (share right among those named; NaN when none).

    >>> depth_curve(np.array([1, 0, 1]), np.array([.9, .6, .3]), np.array([.5, .95]))
    {'threshold': [0.5, 0.95], 'named': [0.6666666666666666, 0.0], 'precision': [0.5, nan]}
    """
    hit, conf = np.asarray(hit, dtype=bool), np.asarray(confidence, dtype=np.float64)
    named, precision = [], []
    for t in np.asarray(thresholds, dtype=np.float64):
        on = conf >= t
        named.append(float(on.mean()) if conf.size else float("nan"))
        precision.append(float(hit[on].mean()) if on.any() else float("nan"))
    return {"threshold": [float(t) for t in thresholds], "named": named, "precision": precision}
