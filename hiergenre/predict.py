"""`predict_images`: the top coherent genre paths of cover images under a trained run.

Every model's label-space probabilities are scattered onto the taxonomy's nodes and decoded with
`decode.beam_paths`; each node on a path is shown with its path probability q(node) (the product
of sibling-normalised probabilities from level 1 down, see `decode.path_probs`), so the numbers
never grow with depth. For a hierarchical model q(node) is the model's own P(node). A model whose
label space holds only level-1 genres (the single-label CNN) gives one-genre paths.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hiergenre.errors import ConfigError, DataError

log = logging.getLogger(__name__)
BATCH = 32


def load_images(paths: Sequence[str | Path], size: int, model) -> tuple[torch.Tensor, list]:
    """Decode covers to a (B, 3, size, size) batch normalised as the model was trained, and
    per-image error reasons (None when the cover decoded; failed ones are zero images)."""
    from hiergenre.data.images import ImageDecodeError, load_square
    from hiergenre.data.loader import eval_transform

    transform = eval_transform(normalize=getattr(model, "input_mean", None) is not None)
    batch, errors = [], []
    for path in paths:
        try:
            pixels = load_square(path, size)
            errors.append(None)
        except ImageDecodeError as exc:
            pixels = np.zeros((size, size, 3), np.uint8)
            errors.append(str(exc))
        x = torch.from_numpy(np.array(pixels)).permute(2, 0, 1).float().div_(255.0)
        batch.append(transform(x))
    return torch.stack(batch), errors


def node_probabilities(model, x: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, S, S) -> probabilities over every taxonomy node (B, num_nodes), 0 outside
    the model's label space."""
    with torch.inference_mode():
        probs = model.node_probs(model(x)).float()
    space = model.label_space
    out = torch.zeros(probs.shape[0], space.taxonomy.num_nodes)
    out[:, torch.as_tensor(space.indices)] = probs
    return out


def top_paths(node_probs: torch.Tensor, model, top_k: int) -> list[list[dict]]:
    """The `top_k` best paths per image: [{"path": [names], "probs": [q per node], "score"}]."""
    from hiergenre import decode

    space = model.label_space
    tax = space.taxonomy
    q = decode.path_probs(node_probs, tax)
    if all(tax.level(n) == 1 for n in space.nodes):  # a level-1 classifier: one-genre paths
        cols = torch.as_tensor(space.indices)
        best = torch.argsort(q[:, cols], dim=1, descending=True, stable=True)[:, :top_k]
        paths = cols[best][..., None]
    else:
        paths, _ = decode.beam_paths(node_probs, tax, beam=max(8, 2 * top_k), k=top_k)
    out = []
    for b in range(paths.shape[0]):
        rows = []
        for path in paths[b].tolist():
            nodes = [j for j in path if j >= 0]
            if not nodes:
                continue
            probs = [float(q[b, j]) for j in nodes]
            rows.append({"path": [tax.names[j] for j in nodes], "probs": probs,
                         "score": probs[-1]})  # fmt: skip
        out.append(rows)
    return out


def predict_images(
    paths: Sequence[str | Path], run_dir: str | Path, top_k: int = 3, device: str = "cpu"
) -> list[dict]:
    """Per image: {"image", "paths": the top-k coherent genre paths with probabilities, "error"}."""
    from hiergenre.train import load_run

    if top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {top_k}")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(f"image file not found: {missing[0]}{more}; check the path")
    model, config, _, _ = load_run(run_dir, device=device)
    results = []
    for start in range(0, len(paths), BATCH):
        chunk = list(paths[start : start + BATCH])
        x, errors = load_images(chunk, config.data.image_size, model)
        decoded = top_paths(node_probabilities(model, x.to(device)).cpu(), model, top_k)
        for path, err, rows in zip(chunk, errors, decoded, strict=True):
            results.append({"image": str(path), "paths": [] if err else rows, "error": err})
    return results
