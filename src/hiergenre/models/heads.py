"""Hierarchical heads: one logit per taxonomy node, normalised per branch, chained down the tree.

All heads of a tree (the top-level head over the level-1 genres plus one head per internal node
over its children) are ONE linear layer D -> num_nodes. The taxonomy's BFS order keeps every
node's children contiguous, so a segment id per node (its parent's branch) turns "softmax per
head" into one vectorised segment softmax (scatter max / scatter add), and the chain rule
log P(node) = log P(node | parent) + log P(parent) runs level by level (levels are contiguous
ranges in BFS order too): at most 3 gathers, no Python loop over heads.

Because log P(node | parent) <= 0, each child's log probability is its parent's plus a
non-positive number, so P(child) <= P(parent) holds exactly, even in floating point.
"""

from __future__ import annotations

import torch
from torch import nn

from hiergenre.errors import ConfigError
from hiergenre.taxonomy import Taxonomy
from hiergenre.tree import segment_log_softmax, tree_tensors

MODES = ("softmax", "sigmoid")


class TreeStructure(nn.Module):
    """Index buffers of a taxonomy for the vectorised heads (non-persistent: derived from the tree).

    `segment_id` (K,): each node's branch, in `taxonomy.branches` order (0 = the root's branch);
    `level_bounds`: [start, stop) of each level; `parent_local[l]`: each level-(l+2) node's parent
    as an offset into level l+1.
    """

    def __init__(self, taxonomy: Taxonomy):
        super().__init__()
        k = taxonomy.num_nodes
        segment = torch.empty(k, dtype=torch.long)
        for b, branch in enumerate(taxonomy.branches):
            segment[branch.start : branch.stop] = b
        self.register_buffer("segment_id", segment, persistent=False)
        self.num_segments = len(taxonomy.branches)
        tree = tree_tensors(taxonomy)
        levels, parents = tree.levels, tree.parent
        bounds = []
        for lv in range(1, taxonomy.depth + 1):
            idx = torch.nonzero(levels == lv).flatten()
            start, stop = int(idx[0]), int(idx[-1]) + 1
            if stop - start != len(idx):
                raise ConfigError("taxonomy levels are not contiguous: build it with Taxonomy")
            bounds.append((start, stop))
        self.level_bounds = tuple(bounds)
        for lv in range(1, len(bounds)):
            (p_start, _), (start, stop) = bounds[lv - 1], bounds[lv]
            self.register_buffer(
                f"parent_local_{lv}", parents[start:stop] - p_start, persistent=False
            )
        self.num_nodes = k

    def parent_local(self, lv: int) -> torch.Tensor:
        return getattr(self, f"parent_local_{lv}")


def conditional_log_probs(logits: torch.Tensor, tree: TreeStructure, mode: str) -> torch.Tensor:
    """log P(node | parent) per node: segment log-softmax or log-sigmoid. (B, K) -> (B, K)."""
    if mode == "softmax":
        return segment_log_softmax(logits, tree.segment_id, tree.num_segments)
    if mode == "sigmoid":
        return nn.functional.logsigmoid(logits)
    raise ConfigError(f"unknown hierarchical mode {mode!r}: choose softmax or sigmoid")


def chain_log_probs(log_cond: torch.Tensor, tree: TreeStructure) -> torch.Tensor:
    """log P(node) = sum over ancestors-or-self of log P(a | parent(a)). (B, K) -> (B, K).

    Equals `log_cond @ ancestry.T` (ancestry[i, j]: j is i or an ancestor), computed per level.
    """
    start, stop = tree.level_bounds[0]
    out = [log_cond[:, start:stop]]
    for lv in range(1, len(tree.level_bounds)):
        start, stop = tree.level_bounds[lv]
        out.append(log_cond[:, start:stop] + out[-1][:, tree.parent_local(lv)])
    return torch.cat(out, dim=1)


def hierarchical_probs(logits: torch.Tensor, tree: TreeStructure, mode: str) -> torch.Tensor:
    """Coherent node probabilities P(node) = P(node | parent) * P(parent). (B, K) -> (B, K)."""
    return chain_log_probs(conditional_log_probs(logits, tree, mode), tree).exp()


class HierarchicalHead(nn.Module):
    """features (B, D) -> one logit per node (B, K); `node_probs` chains them down the tree."""

    def __init__(self, feature_dim: int, taxonomy: Taxonomy, mode: str = "softmax"):
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"unknown hierarchical mode {mode!r}: choose softmax or sigmoid")
        self.linear = nn.Linear(feature_dim, taxonomy.num_nodes)
        self.tree = TreeStructure(taxonomy)
        self.mode = mode

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, D) -> logits (B, K)."""
        return self.linear(features)

    def node_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (B, K) -> coherent probabilities (B, K)."""
        return hierarchical_probs(logits, self.tree, self.mode)
