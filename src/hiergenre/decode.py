"""Decoding node probabilities (B, num_nodes) into genre paths: pure tensor functions.

A path is a row of node indices from level 1 downwards, padded with -1: `paths (B, depth)`.

Several decoders need a distribution over root-to-leaf paths. For ANY node scores p (flat sigmoid,
softmax scattered to nodes, or hierarchical) we use the sibling-normalised chain:
    cond(c) = p(c) / sum_{s sibling of c, s included} p(s),
    q(n)    = prod over the path level-1 .. n of cond(a)          (`path_probs`).
The q of all leaves sums to 1. For a hierarchical model p(c) = P(c | parent) P(parent) and the
siblings sum to P(parent), so cond is the model's own P(c | parent) and q(n) = p(n).

`top_paths` is what a person is shown (`Predictor`, `hiergenre predict`, `serve`): paths ranked
by the model's coherent node probabilities (a flat model's node takes the minimum over its
ancestors; a hierarchical model's are coherent already), printed as they are: never
renormalised, never increasing along a path. Path i starts with the i-th most probable level-1
genre, so the top path starts with the model's most probable genre; below it a decoder chooses
(`greedy`: best child down to a leaf, or until no child reaches `threshold`; `threshold`: the same
with the run's thresholds per level, chosen on its dev part when it was trained (0.5 for a run
without them), the decode the hF metric scores; `beam`: the path shape of `beam_paths`;
`min-distance`: the node of least expected tree distance). Nodes outside `allowed` (for a run:
the genres present in its training albums) are never proposed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import torch

from hiergenre.errors import ConfigError
from hiergenre.taxonomy import Taxonomy
from hiergenre.tree import tree_tensors

DECODERS = ("greedy", "beam", "threshold", "min-distance")  # what `top_paths` knows
DEFAULT_THRESHOLD = 0.5


def _tree(taxonomy: Taxonomy, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    tree = tree_tensors(taxonomy, device)
    return tree.parent, tree.levels


def path_probs(probs: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """q(node): product of sibling-normalised scores along the node's path. (B, N) -> (B, N)."""
    parent, _ = _tree(taxonomy, probs.device)
    group = (parent + 1).expand_as(probs)  # 0 = the level-1 genres, i + 1 = children of node i
    sums = torch.zeros(probs.shape[0], probs.shape[1] + 1, dtype=probs.dtype, device=probs.device)
    sums = sums.scatter_add(1, group, probs)
    cond = probs / sums.gather(1, group).clamp_min(torch.finfo(probs.dtype).tiny)
    joint = cond
    has_parent = parent >= 0
    for _ in range(taxonomy.depth - 1):  # each pass fixes one more level
        joint = cond * torch.where(has_parent, joint[:, parent.clamp_min(0)], 1.0)
    return joint


def path_stops(probs: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Where a path can end: a leaf, or a node none of whose children has p > 0 (a run whose
    label space stops at level 1 or 2 gives every deeper node 0). (B, N) -> bool (B, N)."""
    parent, _ = _tree(taxonomy, probs.device)
    group = (parent + 1).expand_as(probs)
    live = torch.zeros(probs.shape[0], probs.shape[1] + 1, dtype=probs.dtype, device=probs.device)
    live = live.scatter_add(1, group, (probs > 0).to(probs.dtype))
    return live[:, 1:] == 0


def paths_from_nodes(nodes: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """End nodes (...,) (-1 = none) -> their paths (..., depth), level 1 first, -1 padded."""
    parent, levels = _tree(taxonomy, nodes.device)
    flat = nodes.reshape(-1)
    out = torch.full((flat.shape[0], taxonomy.depth), -1, dtype=torch.long, device=nodes.device)
    rows = torch.arange(flat.shape[0], device=nodes.device)
    cur = flat.clone()
    for _ in range(taxonomy.depth):
        ok = cur >= 0
        out[rows[ok], levels[cur[ok]] - 1] = cur[ok]
        cur = torch.where(ok, parent[cur.clamp_min(0)], cur)
    return out.reshape(*nodes.shape, taxonomy.depth)


def path_ends(paths: torch.Tensor) -> torch.Tensor:
    """The deepest node of each path: (..., depth) -> (...,) (-1 for an empty path)."""
    length = (paths >= 0).sum(-1, keepdim=True)
    return paths.gather(-1, (length - 1).clamp_min(0)).squeeze(-1).where(length.squeeze(-1) > 0, -1)


def paths_to_multi_hot(paths: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Paths (B, depth) -> {0, 1} float (B, num_nodes) with every node on the path set."""
    out = torch.zeros(paths.shape[0], num_nodes + 1, device=paths.device)
    out.scatter_(1, paths + 1, 1.0)  # -1 padding lands in column 0, dropped
    return out[:, 1:]


Thresholds = float | Sequence[float] | None


def level_thresholds(threshold: Thresholds, depth: int) -> list[float] | None:
    """A stop threshold per step below level 1 (`depth - 1` values): one float for every step, or
    one per level from level 2 down (a shorter list repeats its last value)."""
    if threshold is None:
        return None
    if isinstance(threshold, (int, float)):
        return [float(threshold)] * max(depth - 1, 0)
    values = [float(t) for t in threshold]
    if not values:
        return None
    return [values[min(i, len(values) - 1)] for i in range(max(depth - 1, 0))]


def _descend(probs: torch.Tensor, taxonomy: Taxonomy, threshold: Thresholds) -> torch.Tensor:
    parent, _ = _tree(taxonomy, probs.device)
    steps = level_thresholds(threshold, taxonomy.depth)
    batch = probs.shape[0]
    out = torch.full((batch, taxonomy.depth), -1, dtype=torch.long, device=probs.device)
    cur = torch.full((batch,), -1, dtype=torch.long, device=probs.device)  # -1 = the root
    alive = torch.ones(batch, dtype=torch.bool, device=probs.device)
    for step in range(taxonomy.depth):
        is_child = parent[None, :] == cur[:, None]
        best, arg = probs.masked_fill(~is_child, float("-inf")).max(dim=1)
        alive &= is_child.any(dim=1)
        if steps is not None and step > 0:
            alive &= best >= steps[step - 1]
        out[:, step] = torch.where(alive, arg, -1)
        cur = torch.where(alive, arg, cur)
    return out


def greedy_paths(probs: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Top-down: the best level-1 genre, then its best child, down to a leaf. (B, N) -> (B, depth).

    Example: A(.6){A1 .1, A2 .5}, B(.4){B1 .4} -> [A, A2].
    """
    return _descend(probs, taxonomy, None)


def threshold_paths(
    probs: torch.Tensor, taxonomy: Taxonomy, threshold: Thresholds = 0.5
) -> torch.Tensor:
    """Greedy descent that stops at an internal node when its best child's p < threshold.

    The best level-1 genre is always taken (every album gets a genre); below it, a step is taken
    only if the best child's probability (as given, not renormalised) is >= threshold, one value
    for every level or one per level from level 2 down (`level_thresholds`).
    Example (threshold .5): A(.9){A1(.6){A1a .3}} -> [A, A1, -1]; with (.5, .2): [A, A1, A1a].
    """
    return _descend(probs, taxonomy, threshold)


def beam_paths(
    probs: torch.Tensor, taxonomy: Taxonomy, beam: int = 5, k: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k root-to-leaf paths by joint probability `path_probs`, with a beam of `beam` per level.

    Returns `paths (B, k, depth)` and `scores (B, k)` (best first; -1 paths and 0 scores when
    fewer than k leaves survive). beam=1 is greedy on the joint; a beam >= the number of leaves is
    exact. Finished paths compete with longer ones for beam slots. A path finishes at a leaf or
    where every child has p = 0 (`path_stops`): zero-probability children are never expanded.
    """
    parent, levels = _tree(taxonomy, probs.device)
    joint = path_probs(probs, taxonomy)
    is_leaf = path_stops(probs, taxonomy)
    kept = torch.zeros_like(joint, dtype=torch.bool)
    width = min(beam, taxonomy.num_nodes)
    for step in range(taxonomy.depth):
        if step == 0:
            cand = (levels == 1).expand_as(kept)
        else:
            from_parent = torch.where(parent >= 0, kept[:, parent.clamp_min(0)], False)
            cand = (from_parent & (probs > 0)) | (kept & is_leaf)
        score = joint.masked_fill(~cand, float("-inf"))
        top, idx = score.topk(width, dim=1)
        kept = torch.zeros_like(kept).scatter(1, idx, torch.isfinite(top))
    final = joint.masked_fill(~(kept & is_leaf), float("-inf"))
    top, idx = final.topk(min(k, taxonomy.num_nodes), dim=1)
    found = torch.isfinite(top)
    ends = torch.where(found, idx, -1)
    scores = torch.where(found, top, 0.0)
    if ends.shape[1] < k:
        pad = k - ends.shape[1]
        ends = torch.nn.functional.pad(ends, (0, pad), value=-1)
        scores = torch.nn.functional.pad(scores, (0, pad), value=0.0)
    return paths_from_nodes(ends, taxonomy), scores


def min_expected_distance(
    probs: torch.Tensor, taxonomy: Taxonomy
) -> tuple[torch.Tensor, torch.Tensor]:
    """The node v minimising E[d(v, L)], L a leaf drawn from the path distribution. -> (B,), (B,)

    q(l) = `path_probs` at the leaves (renormalised to sum 1), d = edges between nodes, and
    E(v) = sum_l q(l) d(v, l) over every node v (internal nodes included: an uncertain album gets
    a coarse genre). Where a run's label space stops above the leaves, its paths end there
    (`path_stops`), and those end nodes take the leaves' place. Ties go to the lowest index (the
    shallower node in BFS order). Returns the chosen node indices (B,) and their expected
    distances (B,), float64.
    Example: leaves A1 (.5), A2 (.5) under A -> A, with E = 1.
    """
    joint = path_probs(probs, taxonomy).to(torch.float64)
    q = torch.where(path_stops(probs, taxonomy), joint, 0.0)
    q = q / q.sum(dim=1, keepdim=True).clamp_min(1e-300)
    expected = q @ tree_tensors(taxonomy, probs.device).distance.to(torch.float64)
    node = expected.argmin(dim=1)
    return node, expected.gather(1, node[:, None]).squeeze(1)


# --- ranked paths for people: what `Predictor`, `predict` and `serve` show -------------------
def _masked(probs: torch.Tensor, taxonomy: Taxonomy, allowed: Collection[str] | None):
    """(probs with disallowed nodes at 0, (num_nodes,) bool allowed mask)."""
    ok = torch.ones(taxonomy.num_nodes, dtype=torch.bool)
    if allowed is not None:
        ok = torch.zeros(taxonomy.num_nodes, dtype=torch.bool)
        ok[torch.as_tensor(taxonomy.indices([n for n in allowed if n in taxonomy]))] = True
    return torch.where(ok, probs, torch.zeros_like(probs)), ok


def _from_genre(probs, taxonomy, genre: torch.Tensor, decode: str, threshold) -> torch.Tensor:
    """Paths (B, depth) that start at `genre` (B,) and descend by the decoder."""
    level1 = torch.as_tensor(taxonomy.levels == 1)
    keep = ~level1[None, :] | (torch.arange(taxonomy.num_nodes)[None, :] == genre[:, None])
    only = torch.where(keep, probs, torch.full_like(probs, -1.0))
    if decode == "beam":
        paths, _ = beam_paths(only.clamp_min(0), taxonomy, beam=8, k=1)
        paths = paths[:, 0]
    elif decode == "min-distance":
        node, _ = min_expected_distance(only.clamp_min(0), taxonomy)
        paths = paths_from_nodes(node, taxonomy)
    else:
        paths = greedy_paths(only, taxonomy)
    alone = torch.full_like(paths, -1)
    alone[:, 0] = genre  # a genre of probability 0 has no path below it to choose
    paths = torch.where(paths[:, :1] == genre[:, None], paths, alone)
    steps = level_thresholds(threshold, paths.shape[1])
    if steps is not None:  # stop where no child reaches its level's threshold
        step_p = probs.gather(1, paths.clamp_min(0))
        limit = torch.as_tensor([0.0, *steps], dtype=probs.dtype)
        below = (step_p < limit) & (torch.arange(paths.shape[1]) > 0)
        paths = torch.where(below.cummax(1).values, -1, paths)
    return paths


def top_paths(
    node_probs: torch.Tensor | np.ndarray,
    taxonomy: Taxonomy,
    top_k: int = 3,
    *,
    decode: str = "greedy",
    threshold: Thresholds = None,
    allowed: Collection[str] | None = None,
) -> list[list[dict]]:
    """The top_k paths per image from coherent node probabilities (B, num_nodes):
    [{"path": [names], "probs": [P per node, non-increasing], "score": P of the last node}].

    Path i starts with the i-th most probable allowed level-1 genre (see module doc).
    Example: P(Rock) .6, P(Indie) .4, P(Pop) .3, threshold .5 -> [Rock], [Pop].
    """
    if decode not in DECODERS:
        raise ConfigError(f"unknown decoder {decode!r}: choose one of {', '.join(DECODERS)}")
    if top_k < 1:
        raise ConfigError(f"`top_k` must be at least 1, got {top_k}")
    if decode == "threshold" and threshold is None:
        threshold = DEFAULT_THRESHOLD
    probs = torch.as_tensor(np.asarray(node_probs, dtype=np.float32))
    probs, ok = _masked(probs, taxonomy, allowed)
    level1 = torch.as_tensor(taxonomy.levels == 1) & ok
    genre_p = torch.where(level1[None, :], probs, torch.full_like(probs, -1.0))
    order = torch.argsort(genre_p, dim=1, descending=True, stable=True)[:, :top_k]
    ranked = [_from_genre(probs, taxonomy, order[:, i], decode, threshold)
              for i in range(order.shape[1])]  # fmt: skip
    out = []
    for b in range(probs.shape[0]):
        rows = []
        for i, paths in enumerate(ranked):
            if genre_p[b, order[b, i]] < 0:
                break  # fewer allowed genres than top_k
            nodes = [j for j in paths[b].tolist() if j >= 0]
            # a path stops before a disallowed genre, and before a sub-genre of probability 0
            # (outside the run's label space: greedy would descend into it all the same)
            cut = next((n for n, j in enumerate(nodes) if not ok[j] or (n and probs[b, j] <= 0)),
                       len(nodes))  # fmt: skip
            p = [float(probs[b, j]) for j in nodes[:cut]]
            rows.append({"path": [taxonomy.names[j] for j in nodes[:cut]], "probs": p,
                         "score": p[-1]})  # fmt: skip
        out.append(rows)
    return out
