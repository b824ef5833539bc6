"""The metrics a run reports each epoch and selects on, by model output type.

Early stopping and `best` use `PRIMARY[output]`: macro AUPRC for sigmoid models, macro F1 for
softmax models, hierarchical F1 for hierarchical models. Every multi-label model (sigmoid or
hierarchical) also reports hierarchical P/R/F1 (micro, HiClass) of one shared decoding rule,
`hiergenre.decode.threshold_paths` at 0.5 (the best level-1 genre, then down while the best
child has P >= 0.5), so flat and hierarchical runs compare on the same number.
"""

from __future__ import annotations

import numpy as np
import torch

from hiergenre import decode, metrics
from hiergenre.taxonomy import Taxonomy

PRIMARY = {"sigmoid": "macro_auprc", "softmax": "macro_f1", "hierarchical": "hier_f1"}


def single_label_metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro F1 of argmax predictions; y: (N,), probs: (N, K)."""
    pred = probs.argmax(1)
    k = probs.shape[1]
    return {
        "accuracy": metrics.accuracy(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy(y, pred, k),
        "macro_f1": metrics.macro_f1(y, pred, k),
    }


def hierarchical_scores(
    y_nodes: np.ndarray, probs_nodes: np.ndarray, taxonomy: Taxonomy, threshold: float = 0.5
) -> dict[str, float]:
    """hP, hR, hF (micro) of the threshold-path decoding against ancestor-closed targets.

    y_nodes: (N, num_nodes) {0,1}; probs_nodes: (N, num_nodes), NaN where a model has no output.
    """
    probs = torch.from_numpy(np.nan_to_num(probs_nodes, nan=0.0).astype(np.float32))
    ends = decode.path_ends(decode.threshold_paths(probs, taxonomy, threshold)).numpy()
    out = metrics.hierarchical_prf(y_nodes > 0.5, ends, taxonomy.ancestry_array())
    return {"hier_precision": out["hP"], "hier_recall": out["hR"], "hier_f1": out["hF"]}


def dev_metrics(
    output: str,
    targets: np.ndarray,
    probs: np.ndarray,
    node_targets: np.ndarray | None = None,
    node_probs: np.ndarray | None = None,
    taxonomy: Taxonomy | None = None,
) -> dict[str, float]:
    """Metrics of one evaluation; the key `PRIMARY[output]` is the one early stopping uses."""
    if len(targets) == 0 or not np.isfinite(probs).all():
        return {PRIMARY[output]: float("nan")}
    if output == "softmax":
        return single_label_metrics(targets.astype(np.int64), probs)
    report = metrics.ranking_report(targets, probs)
    out = {
        k: float(report[k]) for k in ("macro_auprc", "micro_auprc", "macro_auroc", "micro_auroc")
    }
    if node_targets is not None and node_probs is not None and taxonomy is not None:
        out.update(hierarchical_scores(node_targets, node_probs, taxonomy))
    return out
