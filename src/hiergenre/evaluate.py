"""One evaluation path for every model and baseline: probabilities over a label space -> metrics.

`evaluate_predictions` takes (N, K) probabilities in label-space order and the albums' genre
labels, and returns every metric that applies to the model's task in one flat, JSON-ready dict:

- `multilabel` (flat sigmoid) and `hierarchical` (coherent node probabilities): micro and macro
  AUROC / AUPRC over the label space, micro precision / recall / F1 at 0.5, macro F1, ECE and
  Brier; hierarchical precision / recall / F1 of a decoded prediction (top-down thresholds),
  full-path accuracy, per-level accuracy and mistake severity of the greedy top-down path, and
  the hierarchy-violation rate (share of album x parent-child pairs with P(child) > P(parent)).
- every task: single-label metrics over `classes` (the poster's 12 level-1 genres by default):
  on the albums with exactly one of them, the arg-max class is the prediction (accuracy, balanced
  accuracy, macro F1, confusion matrix). This is the one column every model shares.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hiergenre import decode, metrics
from hiergenre.errors import ConfigError, UnknownGenreError
from hiergenre.taxonomy import (
    KOENIG12,
    LabelSpace,
    Taxonomy,
    get_label_space,
    single_label_subset,
)

log = logging.getLogger(__name__)

TASKS = ("multilabel", "singlelabel", "hierarchical")
TASK_OF_OUTPUT = {"sigmoid": "multilabel", "softmax": "singlelabel", "hierarchical": "hierarchical"}
# The metric early stopping and `best` select on, per model output (keys of score_node_probs).
PRIMARY = {"sigmoid": "auprc_macro", "softmax": "macro_f1", "hierarchical": "hF"}
THRESHOLD = 0.5


@dataclass(frozen=True)
class Scoring:
    """What a run is scored on: single-label `classes` and the nodes ranking metrics use
    (`present`; None: every node of the model's label space)."""

    classes: LabelSpace
    present: tuple[str, ...] | None = None


def default_classes(label_space: LabelSpace) -> LabelSpace:
    """The single-label classes of a label space: the poster's 12 when all are in it, else its
    level-1 nodes (e.g. the 5 genres of a Discogs import)."""
    tax = label_space.taxonomy
    inside = set(label_space.nodes)
    wanted = [tax.try_resolve(n) for n in KOENIG12]
    if all(w is not None and w in inside for w in wanted):
        return LabelSpace("koenig12", tax, tuple(n for n in tax.names if n in set(wanted)))
    level1 = tuple(n for n in label_space.nodes if tax.level(n) == 1)
    return LabelSpace("level1-present", tax, level1)


def scoring_classes(label_sets: Sequence[Sequence[str]], taxonomy: Taxonomy) -> LabelSpace:
    """The single-label classes a dataset is scored on: the poster's 12 when each has an album
    with exactly one of them, else the level-1 genres that have one (e.g. 5 for Discogs)."""
    try:
        koenig = get_label_space("koenig12", taxonomy)
    except UnknownGenreError:  # a custom taxonomy without the poster's genres
        koenig = None
    if koenig is not None:
        counts = np.bincount(single_label_subset(label_sets, koenig) + 1, minlength=13)[1:]
        if (counts > 0).all():
            return koenig
    level1 = get_label_space("level1", taxonomy)
    ids = single_label_subset(label_sets, level1)
    counts = np.bincount(ids + 1, minlength=level1.size + 1)[1:]
    nodes = tuple(n for n, c in zip(level1.nodes, counts, strict=True) if c > 0)
    return LabelSpace("level1-present", taxonomy, nodes)


def as_label_sets(targets, label_space: LabelSpace) -> list[list[str]]:
    """Label sets from label sets, (N,) class ids (-1 = none) or (N, K) multi-hot over the space."""
    if not isinstance(targets, np.ndarray):
        return [list(x) for x in targets]
    nodes = label_space.nodes
    if targets.ndim == 1:
        return [[nodes[int(i)]] if i >= 0 else [] for i in targets]
    if targets.ndim == 2 and targets.shape[1] == label_space.size:
        return [[nodes[j] for j in np.flatnonzero(row > 0)] for row in targets]
    raise ConfigError(f"targets of shape {targets.shape} do not fit label space {label_space.name}")


def evaluate_predictions(
    probs: np.ndarray,
    label_space: LabelSpace,
    targets: Sequence[Sequence[str]] | np.ndarray,
    taxonomy: Taxonomy | None = None,
    task: str = "multilabel",
    *,
    classes: LabelSpace | None = None,
    present: Sequence[str] | None = None,
    thresholds: Sequence[float] | None = None,
) -> dict:
    """Every metric of label-space probabilities (N, label_space.size) (a baseline's scores):
    scattered onto the taxonomy's nodes (0 elsewhere) and scored by `score_node_probs`.

    `targets`: genre label sets per album, or (N,) class ids / (N, K) multi-hot over the space.
    Example: two albums, a two-genre space, probs [[.9, .2], [.3, .6]] and labels [[A], [B]]
    give auroc_micro 1.0, precision_at_0.5 1.0, recall_at_0.5 1.0, accuracy 1.0.
    """
    probs = np.asarray(probs, dtype=np.float64)
    label_sets = as_label_sets(targets, label_space)
    if probs.shape != (len(label_sets), label_space.size):
        raise ConfigError(
            f"probabilities {probs.shape} do not match {len(label_sets)} albums x "
            f"{label_space.size} labels of space {label_space.name}"
        )
    nodes = label_space.to_nodes(probs.astype(np.float32), fill=0.0)
    return score_node_probs(nodes, label_space, label_sets, taxonomy, task,
                            classes=classes, present=present, thresholds=thresholds)  # fmt: skip


def score_node_probs(
    node_probs: np.ndarray,
    label_space: LabelSpace,
    label_sets: Sequence[Sequence[str]],
    taxonomy: Taxonomy | None = None,
    task: str = "multilabel",
    *,
    classes: LabelSpace | None = None,
    present: Sequence[str] | None = None,
    thresholds: Sequence[float] | None = None,
) -> dict:
    """THE metrics function: node probabilities (N, num_nodes) of a model whose outputs are
    `label_space`, against the albums' label sets; one flat dict with one vocabulary.

    `classes`: the single-label classes (default `default_classes`); `present`: restrict the
    ranking metrics to these nodes (the labels a dataset uses; default every node of the space).
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    taxonomy = taxonomy or label_space.taxonomy
    node_probs = np.asarray(node_probs, dtype=np.float64)
    label_sets = [list(x) for x in label_sets]
    if node_probs.shape != (len(label_sets), taxonomy.num_nodes):
        raise ConfigError(
            f"node probabilities {node_probs.shape} do not match {len(label_sets)} albums x "
            f"{taxonomy.num_nodes} taxonomy nodes"
        )
    out: dict = {"task": task, "label_space": label_space.name, "n_labels": label_space.size,
                 "n_albums": len(label_sets)}  # fmt: skip
    probs = node_probs[:, label_space.indices]
    if task == "singlelabel":
        classes = classes or label_space
    elif len(label_sets):
        out.update(multilabel_metrics(probs, label_space, label_sets, present))
        scored_levels = sorted({int(v) for v in taxonomy.levels[label_space.indices]})
        out.update(hierarchy_metrics(node_probs, label_sets, taxonomy, scored_levels, thresholds))
        outside = np.setdiff1d(np.arange(taxonomy.num_nodes), label_space.indices)
        scored = node_probs.copy()
        scored[:, outside] = np.nan  # edges leaving the label space are not the model's claims
        out["violation_rate"] = metrics.hierarchy_violation_rate(scored, taxonomy.parent_index)
    out.update(
        single_label_scores(probs, label_space, label_sets, classes or default_classes(label_space))
    )
    return out


def multilabel_metrics(
    probs: np.ndarray, space: LabelSpace, label_sets, present: Sequence[str] | None = None
) -> dict:
    """Ranking, thresholded and calibration metrics over the label space's columns (those in
    `present` when given)."""
    if present is not None:
        keep = set(present)
        cols = [j for j, n in enumerate(space.nodes) if n in keep]
        space = LabelSpace(
            f"{space.name}-present", space.taxonomy, tuple(space.nodes[j] for j in cols)
        )
        probs = probs[:, cols]
    y = space.encode(label_sets)
    if len(y) == 0 or space.size == 0:
        return {}
    rank = metrics.ranking_report(y, probs)
    micro = metrics.precision_recall_f1(y, probs, THRESHOLD, "micro")
    macro = metrics.precision_recall_f1(y, probs, THRESHOLD, "macro")
    per_label = rank.get("per_label_auroc")
    return {
        "auroc_micro": float(rank["micro_auroc"]),
        "auroc_macro": float(rank["macro_auroc"]),
        "auprc_micro": float(rank["micro_auprc"]),
        "auprc_macro": float(rank["macro_auprc"]),
        "n_scored_labels": space.size,
        "n_macro_labels": int(rank["macro_labels_used"]),
        "label_prevalence": float(y.mean()),
        "precision_at_0.5": micro["precision"],
        "recall_at_0.5": micro["recall"],
        "f1_at_0.5": micro["f1"],
        "f1_macro_at_0.5": macro["f1"],
        "ece": metrics.expected_calibration_error(y, probs),
        "brier": metrics.brier_score(y, probs),
        "auroc_per_level": {
            int(k): float(v)
            for k, v in metrics.per_level_auroc(
                y, probs, space.taxonomy.levels[space.indices]
            ).items()
        },
        **_level_auprc(space, rank["per_label_auprc"], metrics.macro_label_mask(y)),
        "per_label_auroc": _named(space.nodes, per_label),
        "per_label_auprc": _named(space.nodes, rank["per_label_auprc"]),
        "per_label_positives": _named(space.nodes, y.sum(0)),
    }


def _level_auprc(space: LabelSpace, per_label: np.ndarray, mask: np.ndarray) -> dict:
    """`level<L>_auprc_macro`: macro AUPRC over the space's labels at level L (those with a
    positive and a negative)."""
    levels = space.taxonomy.levels[space.indices]
    out = {}
    for lv in np.unique(levels):
        use = mask & (levels == lv)
        out[f"level{int(lv)}_auprc_macro"] = float(per_label[use].mean()) if use.any() else None
    return out


def _named(names: Sequence[str], values) -> dict[str, float]:
    if values is None:
        return {}
    return {n: float(v) for n, v in zip(names, np.asarray(values), strict=True)}


def true_node_sets(label_sets, taxonomy: Taxonomy) -> np.ndarray:
    """(N, num_nodes) bool: each album's labels closed under ancestors."""
    true_sets = np.zeros((len(label_sets), taxonomy.num_nodes), dtype=bool)
    for i, labels in enumerate(label_sets):
        true_sets[i, taxonomy.indices(sorted(taxonomy.close(labels)))] = True
    return true_sets


def hierarchy_metrics(
    node_probs: np.ndarray,
    label_sets,
    taxonomy: Taxonomy,
    scored_levels: Sequence[int] | None = None,
    thresholds: Sequence[float] | None = None,
) -> dict:
    """hP/hR/hF of the top-down threshold decode (`thresholds` per level from level 2 down,
    default THRESHOLD), greedy-path level accuracy and mistake severity, and the per-level
    numbers (`level_metrics`) of the levels in `scored_levels` (the levels the model's label
    space has nodes at; None: every level), from node_probs (N, num_nodes) (0 outside the
    space)."""

    anc = taxonomy.ancestry_array()
    levels = taxonomy.levels
    true_sets = true_node_sets(label_sets, taxonomy)
    filled = np.nan_to_num(node_probs, nan=0.0)
    decoded = decoded_sets(decode, filled, taxonomy, thresholds)
    out = {f"{k}": v for k, v in metrics.hierarchical_prf(true_sets, decoded, anc).items()}
    steps = decode.level_thresholds(THRESHOLD if thresholds is None else thresholds,
                                    taxonomy.depth)  # fmt: skip
    out["decode_thresholds"] = steps
    out["depth_decoded"] = float(decoded.sum(1).mean()) if len(decoded) else float("nan")
    out["hF_sample"] = metrics.hierarchical_prf(true_sets, decoded, anc, "sample")["hF"]
    out["full_path_accuracy"] = metrics.full_path_accuracy(true_sets, decoded, anc)
    # Mistake severity needs one true path: albums whose closed set is a single chain.
    depth = true_sets.sum(1)
    deepest = np.where(depth > 0, (true_sets * levels[None, :]).argmax(1), -1)
    chain = (depth > 0) & (depth == levels[np.maximum(deepest, 0)])
    pred = greedy_deepest(decode, filled, taxonomy)
    scored = range(1, taxonomy.depth + 1) if scored_levels is None else scored_levels
    out.update(level_metrics(filled, true_sets, pred, taxonomy, scored))
    out["n_single_path"] = int(chain.sum())
    if chain.any():
        t, p = deepest[chain], pred[chain]
        at = metrics.nodes_at_levels(anc, levels)
        cut = at[p, levels[t] - 1]
        cut = np.where(cut >= 0, cut, p)  # a prediction shallower than the truth stays as it is
        severity = metrics.mistake_severity(t, cut, taxonomy.lca_height_matrix())
        out["path_accuracy_single"] = severity["accuracy"]
        out["mistake_severity"] = severity["mistake_severity"]
    return out


DEPTH_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))  # 0, .05, ..., .95


def level_metrics(
    node_probs: np.ndarray,
    true_sets: np.ndarray,
    pred_end: np.ndarray,
    taxonomy: Taxonomy,
    scored_levels: Sequence[int],
) -> dict:
    """Per level L: `level<L>_albums` (albums labelled to depth L), `level<L>_accuracy` and
    `level<L>_balanced_accuracy` of the greedy top-down path's level-L node
    (`metrics.level_scores`); and `depth_curve`: over the albums labelled to level 2, how often
    the path's level-2 node is named (its probability >= a threshold) and how often it is right
    (`metrics.depth_curve`, thresholds `DEPTH_THRESHOLDS`)."""
    at = metrics.nodes_at_levels(taxonomy.ancestry_array(), taxonomy.levels)
    out: dict = {}
    for lv in scored_levels:
        if lv > at.shape[1]:
            continue
        scores = metrics.level_scores(true_sets, at[pred_end, lv - 1], taxonomy.levels == lv)
        out.update({f"level{lv}_{k}": v for k, v in scores.items()})
    if 2 in scored_levels and at.shape[1] >= 2:
        labelled = true_sets[:, taxonomy.levels == 2].any(axis=1)
        node = at[pred_end, 1][labelled]
        rows = np.flatnonzero(labelled)
        hit = (node >= 0) & true_sets[rows, np.maximum(node, 0)]
        conf = np.where(node >= 0, node_probs[rows, np.maximum(node, 0)], -1.0)
        out["depth_curve"] = metrics.depth_curve(hit, conf, np.array(DEPTH_THRESHOLDS))
    return out


def decoded_sets(decode, node_probs: np.ndarray, taxonomy: Taxonomy, thresholds=None) -> np.ndarray:
    """(N, num_nodes) bool: the coherent top-down threshold decode of node probabilities."""

    threshold = THRESHOLD if thresholds is None else thresholds
    paths = decode.threshold_paths(torch.as_tensor(node_probs), taxonomy, threshold=threshold)
    return decode.paths_to_multi_hot(paths, taxonomy.num_nodes).numpy() > 0


THRESHOLD_GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def choose_thresholds(
    node_probs: np.ndarray, label_sets, taxonomy: Taxonomy, grid: Sequence[float] = THRESHOLD_GRID
) -> list[float]:
    """Stop thresholds per level from level 2 down that maximise micro hF of the top-down decode
    on these albums (a run's dev part): coordinate ascent over `grid`, level 2 first, each level
    once and level 2 again; ties keep the higher threshold (the shallower, safer decode).

    A sub-genre is then named only where the model's probability of it reached its level's
    threshold on dev; otherwise the path stops at the parent. Example: an album labelled only
    Rock, whose P(Hard Rock) is .3, is decoded [Rock] unless a lower level-2 threshold wins."""

    anc = taxonomy.ancestry_array()
    true_sets = true_node_sets(label_sets, taxonomy)
    filled = np.nan_to_num(np.asarray(node_probs, dtype=np.float64), nan=0.0)
    steps = [THRESHOLD] * max(taxonomy.depth - 1, 0)

    def h_f(values: list[float]) -> float:
        decoded = decoded_sets(decode, filled, taxonomy, values)
        return metrics.hierarchical_prf(true_sets, decoded, anc)["hF"]

    order = list(range(len(steps))) + ([0] if steps else [])
    for level in order:
        scores = [(h_f(steps[:level] + [t] + steps[level + 1 :]), t) for t in sorted(grid)]
        best = max(s for s, _ in scores)
        steps[level] = max(t for s, t in scores if s >= best - 1e-12)
    return steps


def greedy_deepest(decode, node_probs: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """(N,) node index where the greedy top-down path ends (-1 for an empty path)."""

    return decode.path_ends(decode.greedy_paths(torch.as_tensor(node_probs), taxonomy)).numpy()


def single_label_scores(
    probs: np.ndarray, space: LabelSpace, label_sets, classes: LabelSpace
) -> dict:
    """Accuracy, balanced accuracy, macro F1 and confusion matrix over `classes`, on the albums
    with exactly one of them; the prediction is the class with the highest probability."""
    pos = {n: j for j, n in enumerate(space.nodes)}
    missing = [c for c in classes.nodes if c not in pos]
    ids = single_label_subset(label_sets, classes)
    keep = ids >= 0
    out: dict = {"classes": list(classes.nodes), "classes_name": classes.name,
                 "n_single": int(keep.sum())}  # fmt: skip
    if missing or not keep.any():
        if missing:
            out["single_label_note"] = f"the model does not score {len(missing)} of the classes"
        return out
    p = probs[keep][:, [pos[c] for c in classes.nodes]]
    y, pred = ids[keep], p.argmax(1)
    k = classes.size
    out.update({
        "accuracy": metrics.accuracy(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy(y, pred),
        "macro_f1": metrics.macro_f1(y, pred, k),
        "confusion": metrics.confusion_matrix(y, pred, k).tolist(),
        "majority_share": float(np.bincount(y, minlength=k).max() / len(y)),
    })  # fmt: skip
    if np.allclose(p.sum(1), 1.0, atol=1e-3):
        out["ece_top1"] = metrics.expected_calibration_error(y, p, mode="top1")
        out["brier_top1"] = metrics.brier_score(y, p, mode="top1")
    return out


# How a metrics dict is shown: the same keys in every table (train, evaluate, benchmark).
HEADLINE = (
    ("auroc_micro", "µAUROC"),
    ("auroc_macro", "mAUROC"),
    ("auprc_micro", "µAUPRC"),
    ("auprc_macro", "mAUPRC"),
    ("hF", "hF"),
    ("precision_at_0.5", "P@.5"),
    ("recall_at_0.5", "R@.5"),
    ("accuracy", "single-label acc"),
    ("balanced_accuracy", "single-label bal.acc"),
    ("macro_f1", "single-label macro F1"),
    ("violation_rate", "violations"),
)
LEVEL_COLUMNS = (
    ("albums", "albums"),
    ("accuracy", "acc"),
    ("balanced_accuracy", "bal.acc"),
    ("auprc_macro", "mAUPRC"),
)


def scored_levels(m: dict) -> list[int]:
    """The levels a metrics dict has per-level numbers for (`level<L>_albums` > 0)."""
    return [lv for lv in range(1, 5) if (m.get(f"level{lv}_albums") or 0) > 0]


def level_value(m: dict, level: int, key: str):
    """One per-level number of a metrics dict (`level_value(m, 2, "accuracy")`), None if absent."""
    return m.get(f"level{level}_{key}")


def per_label_rows(m: dict, taxonomy: Taxonomy | None = None, top: int = 30) -> list[tuple]:
    """(label, level, positives, AUROC, AUPRC) of the `top` labels with the most positives."""
    pos = m.get("per_label_positives") or {}
    roc, ap = m.get("per_label_auroc") or {}, m.get("per_label_auprc") or {}
    names = sorted(pos, key=lambda n: -pos[n])[:top]
    level = (lambda n: taxonomy.level(n)) if taxonomy is not None else (lambda n: None)
    return [(n, level(n), int(pos[n]), roc.get(n), ap.get(n)) for n in names]
