"""The one home of a taxonomy's tree as tensors, and the tensor operations over it.

`tree_tensors(taxonomy, device)` gives the parent index, levels, ancestry and tree distance of
every node as torch tensors (cached per taxonomy and device), built from the taxonomy's own numpy
arrays (`Taxonomy.parent_index`, `levels`, `ancestry_array`, `distance_matrix`). decode, losses,
the hierarchical heads and training use these; nothing else rebuilds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from hiergenre.taxonomy import Taxonomy


@dataclass(frozen=True)
class TreeTensors:
    """`parent` (N,) long (-1: a level-1 genre), `levels` (N,) long (1 = level 1), `ancestry`
    (N, N) bool (`ancestry[i, j]`: j is i or an ancestor of i), `distance` (N, N) float64 (edges
    between two nodes), `is_leaf` (N,) bool."""

    parent: torch.Tensor
    levels: torch.Tensor
    ancestry: torch.Tensor
    distance: torch.Tensor
    is_leaf: torch.Tensor


@lru_cache(maxsize=64)
def _cached(taxonomy: Taxonomy, device: str) -> TreeTensors:
    parent = torch.tensor(taxonomy.parent_index, dtype=torch.long)  # a copy: numpy's is read-only
    is_leaf = torch.ones(taxonomy.num_nodes, dtype=torch.bool)
    is_leaf[parent[parent >= 0]] = False
    out = TreeTensors(parent, torch.tensor(taxonomy.levels, dtype=torch.long),
                      torch.tensor(taxonomy.ancestry_array()),
                      torch.tensor(taxonomy.distance_matrix(), dtype=torch.float64),
                      is_leaf)  # fmt: skip
    return TreeTensors(*(t.to(device) for t in vars(out).values()))


def tree_tensors(taxonomy: Taxonomy, device: torch.device | str | None = None) -> TreeTensors:
    """The taxonomy's tree as tensors on `device` (default CPU); read-only, shared."""
    return _cached(taxonomy, str(torch.device(device or "cpu")))


def segment_log_softmax(
    logits: torch.Tensor, segment_id: torch.Tensor, num_segments: int
) -> torch.Tensor:
    """Log-softmax within each segment. logits (B, K), segment_id (K,) -> (B, K)."""
    index = segment_id.expand_as(logits)
    fill = torch.full(
        (logits.shape[0], num_segments), float("-inf"), dtype=logits.dtype, device=logits.device
    )
    top = fill.scatter_reduce(1, index, logits.detach(), "amax").gather(1, index)
    shifted = logits - top
    sums = torch.zeros_like(fill).scatter_add(1, index, shifted.exp())
    return shifted - sums.log().gather(1, index)


def mcm(probs: torch.Tensor, ancestry: torch.Tensor, chunk: int = 2**24) -> torch.Tensor:
    """C-HMCNN's max-constraint module: each node's max over its descendants-or-self.

    probs (B, N) in [0, 1]; ancestry (N, N) bool, `ancestry[i, j]` iff j is i or an ancestor of i.
    out[:, j] = max_{i : ancestry[i, j]} probs[:, i], so out[child] <= out[parent] (coherent).
    Example: chain a -> b with probs [0.2, 0.7] gives [0.7, 0.7].
    """
    mask = ancestry.to(device=probs.device, dtype=torch.bool)
    n = probs.shape[1]
    step = max(1, chunk // max(1, n * n))
    parts = []
    for lo in range(0, probs.shape[0], step):
        block = probs[lo : lo + step, :, None]  # (b, i, 1) broadcast over j
        masked = torch.where(mask, block, torch.full_like(block, float("-inf")))
        parts.append(masked.amax(dim=1))
    return torch.cat(parts, dim=0) if parts else probs.clone()
