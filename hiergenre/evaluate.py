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

import numpy as np

from hiergenre import metrics
from hiergenre.errors import ConfigError
from hiergenre.taxonomy import KOENIG12, LabelSpace, Taxonomy, single_label_subset

log = logging.getLogger(__name__)

TASKS = ("multilabel", "singlelabel", "hierarchical")
TASK_OF_OUTPUT = {"sigmoid": "multilabel", "softmax": "singlelabel", "hierarchical": "hierarchical"}
THRESHOLD = 0.5


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
) -> dict:
    """Every metric of one model: probs (N, label_space.size) against the albums' labels.

    `targets`: genre label sets per album, or (N,) class ids / (N, K) multi-hot over the space.
    `classes`: the single-label classes (default `default_classes`); `present`: restrict the
    ranking metrics to these nodes (the labels a dataset uses; default every node of the space).
    Example: two albums, a two-genre space, probs [[.9, .2], [.3, .6]] and labels [[A], [B]]
    give auroc_micro 1.0, precision_at_0.5 1.0, recall_at_0.5 1.0, accuracy 1.0.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    taxonomy = taxonomy or label_space.taxonomy
    probs = np.asarray(probs, dtype=np.float64)
    label_sets = as_label_sets(targets, label_space)
    if probs.shape != (len(label_sets), label_space.size):
        raise ConfigError(
            f"probabilities {probs.shape} do not match {len(label_sets)} albums x "
            f"{label_space.size} labels of space {label_space.name}"
        )
    out: dict = {"task": task, "label_space": label_space.name, "n_labels": label_space.size,
                 "n_albums": len(label_sets)}  # fmt: skip
    if task == "singlelabel":
        classes = classes or label_space
    else:
        out.update(multilabel_metrics(probs, label_space, label_sets, present))
        node_probs = label_space.to_nodes(probs.astype(np.float32))
        out.update(hierarchy_metrics(node_probs, label_sets, taxonomy))
    out.update(
        single_label_metrics(
            probs, label_space, label_sets, classes or default_classes(label_space)
        )
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
        "per_label_auroc": _named(space.nodes, per_label),
        "per_label_positives": _named(space.nodes, y.sum(0)),
    }


def _named(names: Sequence[str], values) -> dict[str, float]:
    if values is None:
        return {}
    return {n: float(v) for n, v in zip(names, np.asarray(values), strict=True)}


def hierarchy_metrics(node_probs: np.ndarray, label_sets, taxonomy: Taxonomy) -> dict:
    """hP/hR/hF of the top-down threshold decode, greedy-path level accuracy and mistake
    severity, and the violation rate, from node_probs (N, num_nodes) (NaN outside the space)."""
    from hiergenre import decode

    anc = taxonomy.ancestry_array()
    levels = taxonomy.levels
    true_sets = np.zeros(node_probs.shape, dtype=bool)
    for i, labels in enumerate(label_sets):
        true_sets[i, taxonomy.indices(sorted(taxonomy.close(labels)))] = True
    filled = np.nan_to_num(node_probs, nan=0.0)
    decoded = decoded_sets(decode, filled, taxonomy)
    out = {f"{k}": v for k, v in metrics.hierarchical_prf(true_sets, decoded, anc).items()}
    out["hF_sample"] = metrics.hierarchical_prf(true_sets, decoded, anc, "sample")["hF"]
    out["full_path_accuracy"] = metrics.full_path_accuracy(true_sets, decoded, anc)
    out["violation_rate"] = metrics.hierarchy_violation_rate(node_probs, taxonomy.parent_index)
    # Level accuracy and severity need one true path: albums whose closed set is a single chain.
    depth = true_sets.sum(1)
    deepest = np.where(depth > 0, (true_sets * levels[None, :]).argmax(1), -1)
    chain = (depth > 0) & (depth == levels[np.maximum(deepest, 0)])
    pred = greedy_deepest(decode, filled, taxonomy)
    out["n_single_path"] = int(chain.sum())
    if chain.any():
        t, p = deepest[chain], pred[chain]
        out["level_accuracy"] = {
            int(k): float(v) for k, v in metrics.per_level_accuracy(t, p, anc, levels).items()
        }
        at = metrics.nodes_at_levels(anc, levels)
        cut = at[p, levels[t] - 1]
        cut = np.where(cut >= 0, cut, p)  # a prediction shallower than the truth stays as it is
        severity = metrics.mistake_severity(t, cut, taxonomy.lca_height_matrix())
        out["path_accuracy_single"] = severity["accuracy"]
        out["mistake_severity"] = severity["mistake_severity"]
    return out


def decoded_sets(decode, node_probs: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """(N, num_nodes) bool: the coherent top-down threshold decode of node probabilities."""
    import torch

    paths = decode.threshold_paths(torch.as_tensor(node_probs), taxonomy, threshold=THRESHOLD)
    return decode.paths_to_multi_hot(paths, taxonomy.num_nodes).numpy() > 0


def greedy_deepest(decode, node_probs: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """(N,) node index where the greedy top-down path ends (-1 for an empty path)."""
    import torch

    return decode.path_ends(decode.greedy_paths(torch.as_tensor(node_probs), taxonomy)).numpy()


def single_label_metrics(
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


def predict_probs(
    model, dataset, rows: np.ndarray, image_size: int, device: str = "cpu", batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray, float]:
    """Label-space probabilities (M, K) of a model over dataset rows whose cover decoded, those
    rows (M,), and the seconds the forward passes took (for images / second)."""
    import time

    import torch
    from torch.utils.data import DataLoader

    from hiergenre.data.loader import CoverDataset, eval_transform
    from hiergenre.data.store import ImageStore

    store = ImageStore.open_or_build(dataset, image_size)
    rows = np.asarray(rows, dtype=np.int64)
    normalize = getattr(model, "input_mean", None) is not None
    data = CoverDataset(
        store, rows, np.zeros(len(rows), np.int64), eval_transform(normalize=normalize)
    )
    model = model.to(device).eval()
    out, seconds = [], 0.0
    with torch.inference_mode():
        for x, _ in DataLoader(data, batch_size=batch_size, shuffle=False):
            start = time.perf_counter()
            out.append(model.node_probs(model(x.to(device))).float().cpu().numpy())
            seconds += time.perf_counter() - start
    probs = np.concatenate(out) if out else np.zeros((0, model.label_space.size), np.float32)
    return probs, data.rows, seconds


def evaluate_run(run_dir, data: str | None = None, device: str = "cpu") -> dict:
    """Re-evaluate a trained run: on its own split's test part, or on every album of `data`."""
    from pathlib import Path

    from hiergenre.data import Split, load_dataset, resolve_dataset
    from hiergenre.train import load_run

    model, config, taxonomy, space = load_run(run_dir, device=device)
    if data is not None:
        dataset = load_dataset(data, taxonomy)
        rows = np.arange(len(dataset))
    else:
        dataset = resolve_dataset(config.data.path, taxonomy)
        rows = Split.load(Path(run_dir) / "split.json").rows(dataset, "test")
    probs, kept, seconds = predict_probs(model, dataset, rows, config.data.image_size, device)
    labels = [dataset.label_sets[i] for i in kept]
    result = evaluate_predictions(probs, space, labels, taxonomy, TASK_OF_OUTPUT[model.output])
    result.update({"run_dir": str(run_dir), "model_name": config.model.name,
                   "dataset": str(dataset.root), "part": "all" if data else "test",
                   "images_per_s": len(kept) / seconds if seconds > 0 else None})  # fmt: skip
    return result
