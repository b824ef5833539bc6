"""Training losses: flat (bce), hierarchical conditional, C-HMCNN's MCLoss, soft tree labels."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from hiergenre.taxonomy import Taxonomy
from hiergenre.tree import mcm, segment_log_softmax, tree_tensors


def bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None):
    """Mean sigmoid cross-entropy. logits, targets (B, K); pos_weight (K,) or None -> scalar."""
    return F.binary_cross_entropy_with_logits(logits, targets.float(), pos_weight=pos_weight)


def hierarchical_conditional_loss(
    logits: torch.Tensor, targets: torch.Tensor, taxonomy: Taxonomy, mode: str = "softmax"
) -> torch.Tensor:
    """Loss of a hierarchical head: each branch's head is trained on the samples under it.

    logits, targets (B, num_nodes); targets multi-hot, closed under ancestors.
    softmax: for every branch (the root's included) and every sample whose target holds the branch
    node and at least one of its children, cross-entropy of the branch's softmax against the
    children's targets normalised to sum 1; summed and divided by B. For one target path this is
    -log P(path end) under the chained model. A sample labelled at an internal node adds no term
    below it.
    sigmoid: binary cross-entropy of every node on the samples whose target holds its parent
    (all samples for level 1), averaged over those (sample, node) terms.
    Example (softmax): children A, B of the root, logits [0, 0], target A -> log 2.
    """
    targets = targets.to(logits.dtype)
    parent = tree_tensors(taxonomy, logits.device).parent
    parent_on = torch.where(parent >= 0, targets[:, parent.clamp_min(0)], 1.0)
    if mode == "sigmoid":
        terms = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * parent_on
        return terms.sum() / parent_on.sum().clamp_min(1.0)
    if mode != "softmax":
        raise ValueError(f"mode must be softmax or sigmoid, not {mode!r}")
    group = parent + 1
    on = targets * parent_on
    index = group.expand_as(on)
    sums = torch.zeros(on.shape[0], on.shape[1] + 1, dtype=on.dtype, device=on.device)
    sums = sums.scatter_add(1, index, on).gather(1, index)
    weights = on / sums.clamp_min(1e-12)
    log_cond = segment_log_softmax(logits, group, on.shape[1] + 1)
    return -(weights * log_cond).sum() / logits.shape[0]


def mc_loss(logits: torch.Tensor, targets: torch.Tensor, ancestry: torch.Tensor) -> torch.Tensor:
    """C-HMCNN's MCLoss: BCE on MCM outputs; positives take MCM over positive descendants only.

    logits, targets (B, N); ancestry (N, N) bool (`ancestry[i, j]`: j is i or an ancestor).
    h = sigmoid(logits); out = (1 - y) * MCM(h) + y * MCM(y * h); loss = mean BCE(out, y).
    """
    targets = targets.to(logits.dtype)
    probs = torch.sigmoid(logits)
    constrained = mcm(probs, ancestry)
    positive = mcm(targets * probs, ancestry)
    out = (1 - targets) * constrained + targets * positive
    return F.binary_cross_entropy(out.clamp(0.0, 1.0), targets)


def soft_tree_labels(
    targets: torch.Tensor, taxonomy: Taxonomy, beta: float, classes: torch.Tensor | None = None
) -> torch.Tensor:
    """Bertinetto et al.'s soft labels: softmax over classes of -beta * lca_height(target, class).

    targets (B,) indices into `classes` (taxonomy indices, default the leaves) -> (B, C) float32.
    Example: leaves A1, A2 (under A), B1 (under B), target A1, beta 1:
    heights [0, 1, 2] -> softmax([0, -1, -2]) = [.665, .245, .090].
    """
    if classes is None:
        classes = torch.tensor(taxonomy.indices(taxonomy.leaves).tolist(), dtype=torch.long)
    classes = classes.to(targets.device)
    heights = torch.tensor(taxonomy.lca_height_matrix(), dtype=torch.float32, device=targets.device)
    sub = heights[classes][:, classes]
    return torch.softmax(-beta * sub[targets], dim=1)
