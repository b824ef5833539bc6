"""Frozen-encoder features of every cover of an image store, computed once and cached on disk.

A frozen encoder maps the same preprocessed cover to the same features whoever asks, so they are
computed once per (encoder, image store, preprocessing) for every decoded cover and stored as
`<cache>/features/albums-<key>-<precision>.npy`, read back memory-mapped (the pages a reader
touches, not a copy per reader). Training (the head's fit on cached features), the final dev /
test scores, `evaluate` and the benchmark (every fold, every head on that encoder) read the same
file through `store_features`: one computation, memoised, not a second path.
The key covers the encoder's class chain and settings, a digest of its weights, the store file
and the preprocessing, so a changed encoder or input never reuses stale features.

Precision (`HIERGENRE_FEATURE_PRECISION`): `float32` (the default: the cached features are the
encoder's own numbers, so a frozen model's scores from the cache equal its full forward) or
`float16` (half the disk and memory: 42 KB per cover at lite0's 21,232 features instead of 85;
scores move by float16 rounding, about 1e-3 relative).

Under torchrun (a process group already joined, as `fit` does), each rank computes a contiguous
slice of the covers and saves it as a shard (`...-part-<rank>-of-<world>.npy`, kept until the
whole file exists, so a rerun computes only the missing shards); the shards are then exchanged
and every rank reads the same merged features.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from hiergenre.data.store import cache_root
from hiergenre.errors import ConfigError
from hiergenre.models.base import unwrap
from hiergenre.runtime import batch_for, shard_slice

log = logging.getLogger(__name__)
PRECISIONS = {"float32": np.float32, "float16": np.float16}


def feature_precision() -> str:
    """The cache's precision: `$HIERGENRE_FEATURE_PRECISION` (float32 | float16), else float32."""
    name = os.environ.get("HIERGENRE_FEATURE_PRECISION", "float32").strip().lower()
    if name not in PRECISIONS:
        raise ConfigError(f"HIERGENRE_FEATURE_PRECISION={name!r}: choose float32 or float16")
    return name


def encoder_is_frozen(model: nn.Module) -> bool:
    """True when the model has an encoder and a head, and no encoder parameter trains."""
    model = unwrap(model)
    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(model, "head"):
        return False
    return bool(getattr(model, "encoder_frozen", False)) or not any(
        p.requires_grad for p in encoder.parameters()
    )


def encoder_identity(encoder: nn.Module) -> str:
    """What, beside its weights, decides an encoder's features: its class chain and settings."""
    parts, enc = [], encoder
    while enc is not None:
        names = ("layers", "with_semantic", "max_channels", "reduce_dim", "feature_dim")
        parts.append(f"{type(enc).__name__}{[getattr(enc, a, None) for a in names]}")
        enc = getattr(enc, "inner", None) or getattr(enc, "backbone", None)
    return "/".join(parts)


def features_key(encoder: nn.Module, store, preprocess) -> str:
    """Hex key over everything the cached features depend on."""
    h = hashlib.sha256(encoder_identity(encoder).encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(f"{Path(store.path).name}:{preprocess.to_dict()}".encode())
    h.update(np.flatnonzero(store.ok).astype(np.int64).tobytes())
    return h.hexdigest()[:24]


@torch.inference_mode()
def compute_store_features(
    model: nn.Module, preprocess, store, rows: np.ndarray, device, batch_size: int | None = None
) -> torch.Tensor:
    """Encoder features (N, D) float32 of store rows: preprocess, then `model.features`."""
    batch_size = batch_size or batch_for(preprocess.size, device)
    model = unwrap(model)
    model.eval()
    out = []
    for i in range(0, len(rows), batch_size):
        x = preprocess(np.asarray(store.images[rows[i : i + batch_size]])).to(device)
        out.append(model.features(x).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, model.encoder.feature_dim))


def _rank_world() -> tuple[int, int]:
    """(rank, world size) of the process group this process joined, else (0, 1)."""

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _save(path: Path, array: np.ndarray) -> None:
    """np.save through a temporary file, renamed into place (never a half-written cache)."""
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npy")
    np.save(tmp, array)
    tmp.replace(path)


def _read(path: Path, n: int) -> np.ndarray | None:
    """The memory-mapped array at `path` if it holds `n` rows, else None."""
    if not path.is_file():
        return None
    try:
        feats = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        log.warning("feature cache %s unreadable; recomputing", path)
        return None
    return feats if len(feats) == n else None


def store_features(
    model: nn.Module, preprocess, store, device="cpu", progress=None
) -> tuple[np.ndarray, np.ndarray]:
    """(features (M, D) of every decoded cover, memory-mapped, in the cache's precision; their
    store rows (M,)), from the cache or computed once (sharded over the ranks of a joined process
    group) and cached. `progress("features", {...})` is called before a computation."""

    model = unwrap(model)
    rows = np.flatnonzero(store.ok)
    precision = feature_precision()
    key = features_key(model.encoder, store, preprocess)
    path = cache_root() / "features" / f"albums-{key}-{precision}.npy"
    feats = _read(path, len(rows))
    if feats is not None:
        return feats, rows
    path.parent.mkdir(parents=True, exist_ok=True)
    rank, world = _rank_world()
    part = path.with_name(f"{path.stem}-part-{rank}-of-{world}.npy")
    batch = batch_for(preprocess.size, device)  # shards of whole batches: the same numbers
    mine = rows[shard_slice(len(rows), rank, world, align=batch)]
    shard = _read(part, len(mine)) if world > 1 else None
    if shard is None:
        if progress is not None:
            progress("features", {"part": "all covers" if world == 1 else f"shard {rank + 1} "
                                  f"of {world}", "n": len(mine)})  # fmt: skip
        model.to(device)
        shard = compute_store_features(model, preprocess, store, mine, torch.device(device), batch)
        shard = shard.numpy().astype(PRECISIONS[precision], copy=False)
        if world > 1:
            _save(part, shard)
    if world == 1:
        _save(path, np.ascontiguousarray(shard))
        return _read(path, len(rows)), rows

    shards: list = [None] * world
    dist.all_gather_object(shards, np.asarray(shard))  # works across machines, no shared disk
    if rank == 0:
        _save(path, np.concatenate(shards))
    dist.barrier()
    if rank == 0:
        for r in range(world):
            path.with_name(f"{path.stem}-part-{r}-of-{world}.npy").unlink(missing_ok=True)
    merged = _read(path, len(rows))
    return (merged if merged is not None else np.concatenate(shards)), rows


def select(feats: np.ndarray, every: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    """The features of `rows` (each must be one of `every`, the rows `feats` belong to), as a
    tensor in the cache's precision."""
    rows = np.asarray(rows, dtype=np.int64)
    at = np.searchsorted(every, rows)
    if len(at) and (
        at.max() >= len(every) or not (every[np.minimum(at, len(every) - 1)] == rows).all()
    ):
        raise RuntimeError("a row asked for has no decoded cover in the feature cache")
    return torch.from_numpy(np.ascontiguousarray(feats[at]))
