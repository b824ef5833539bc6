"""`predict_images`: the top genre paths of cover images under a trained run.

Covers go through the run's one inference path (`hiergenre.inference`): the model's coherent
probabilities over every taxonomy node (a flat model's node takes the minimum over its ancestors;
a hierarchical model's are coherent already). `top_paths` ranks paths by those probabilities and
prints them as they are: never renormalised, never increasing along a path.

Path i starts with the i-th most probable level-1 genre, so the top path starts with the model's
most probable genre; below it the decoder chooses (`greedy`: best child down to a leaf, or until
no child reaches `threshold`; `threshold`: the same with the run's thresholds per level, chosen on
its dev part when it was trained (0.5 for a run without them), the decode the hF metric scores;
`beam`: the path shape of `decode.beam_paths`; `min-distance`: the node of least expected tree
distance). Nodes outside `allowed` (by default the genres present in the run's training
albums) are never proposed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import torch

from hiergenre import decode as dec
from hiergenre.data.images import ImageDecodeError
from hiergenre.errors import ConfigError, DataError
from hiergenre.inference import decode_ahead, predict_pixels
from hiergenre.taxonomy import Taxonomy
from hiergenre.train import load_run

log = logging.getLogger(__name__)
BATCH = 32
DECODERS = ("greedy", "beam", "threshold", "min-distance")
DEFAULT_THRESHOLD = 0.5


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
        paths, _ = dec.beam_paths(only.clamp_min(0), taxonomy, beam=8, k=1)
        paths = paths[:, 0]
    elif decode == "min-distance":
        node, _ = dec.min_expected_distance(only.clamp_min(0), taxonomy)
        paths = dec.paths_from_nodes(node, taxonomy)
    else:
        paths = dec.greedy_paths(only, taxonomy)
    alone = torch.full_like(paths, -1)
    alone[:, 0] = genre  # a genre of probability 0 has no path below it to choose
    paths = torch.where(paths[:, :1] == genre[:, None], paths, alone)
    steps = dec.level_thresholds(threshold, paths.shape[1])
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
    threshold: dec.Thresholds = None,
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


def run_threshold(run, decode: str, threshold: dec.Thresholds) -> dec.Thresholds:
    """The stop threshold(s) of a decode: the given one, else for `threshold` the run's own per
    level (chosen on dev in training, `LoadedRun.model.decode_thresholds`), else None."""
    if threshold is not None or decode != "threshold":
        return threshold
    return getattr(run.model, "decode_thresholds", None)


def predict_images(
    paths: Sequence[str | Path],
    run_dir: str | Path,
    top_k: int = 3,
    device: str = "cpu",
    *,
    decode: str = "greedy",
    threshold: float | None = None,
) -> list[dict]:
    """Per image: {"image", "paths": the top-k genre paths with the model's probabilities,
    "error"} (an unreadable cover gets its reason and no paths)."""

    if top_k < 1:
        raise ConfigError(f"`top_k` must be at least 1, got {top_k}")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(f"image file not found: {missing[0]}{more}; check the path")
    run = load_run(run_dir, device=device)
    size = run.preprocess.size

    def load(i: int) -> tuple[np.ndarray, str | None]:
        try:
            return run.preprocess.load(paths[i]), None
        except ImageDecodeError as exc:
            return np.zeros((size, size, 3), np.uint8), str(exc)

    results = []
    for start, batch in zip(range(0, len(paths), BATCH), decode_ahead(paths, load, BATCH),
                            strict=True):  # fmt: skip
        chunk = list(paths[start : start + BATCH])
        probs = predict_pixels(run.model, run.preprocess, np.stack([px for px, _ in batch]),
                               device=device)  # fmt: skip
        decoded = top_paths(probs, run.taxonomy, top_k, decode=decode,
                            threshold=run_threshold(run, decode, threshold),
                            allowed=run.trained_nodes)  # fmt: skip
        for path, (_, err), rows in zip(chunk, batch, decoded, strict=True):
            results.append({"image": str(path), "paths": [] if err else rows, "error": err})
    return results
