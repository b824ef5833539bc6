"""Frozen-encoder features of every cover of an image store, computed once and cached on disk.

A frozen encoder maps the same preprocessed cover to the same features whoever asks, so they are
computed once per (encoder, image store, preprocessing) for every decoded cover and stored as
`<cache>/features/albums-<key>.safetensors`. Training (the head's fit on cached features), the
final dev / test scores, `evaluate` and the benchmark (every fold, every head on that encoder)
read the same file through `store_features`: one computation, memoised, not a second path.
The key covers the encoder's class chain and settings, a digest of its weights, the store file
and the preprocessing, so a changed encoder or input never reuses stale features.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from hiergenre.runtime import batch_for

log = logging.getLogger(__name__)


def encoder_is_frozen(model: nn.Module) -> bool:
    """True when the model has an encoder and a head, and no encoder parameter trains."""
    model = getattr(model, "model", model)  # HeadOnly wraps the GenreModel
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
    model = getattr(model, "model", model)
    model.eval()
    out = []
    for i in range(0, len(rows), batch_size):
        x = preprocess(np.asarray(store.images[rows[i : i + batch_size]])).to(device)
        out.append(model.features(x).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, model.encoder.feature_dim))


def store_features(
    model: nn.Module, preprocess, store, device="cpu", progress=None
) -> tuple[torch.Tensor, np.ndarray]:
    """(features (M, D) of every decoded cover, their store rows (M,)), from the cache or computed
    once and cached. `progress("features", {...})` is called before a computation."""
    from hiergenre.data.store import cache_root

    model = getattr(model, "model", model)
    rows = np.flatnonzero(store.ok)
    path = cache_root() / "features" / f"albums-{features_key(model.encoder, store, preprocess)}"
    path = path.with_suffix(".safetensors")
    if path.is_file():
        try:
            feats = load_file(path)["features"]
            if len(feats) == len(rows):
                return feats, rows
        except (SafetensorError, KeyError, OSError):
            log.warning("feature cache %s unreadable; recomputing", path)
    if progress is not None:
        progress("features", {"part": "all covers", "n": len(rows)})
    model.to(device)
    feats = compute_store_features(model, preprocess, store, rows, torch.device(device))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{id(feats)}")
    save_file({"features": feats.contiguous()}, tmp)
    tmp.replace(path)
    return feats, rows


def select(feats: torch.Tensor, every: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    """The features of `rows` (each must be one of `every`, the rows `feats` belong to)."""
    rows = np.asarray(rows, dtype=np.int64)
    at = np.searchsorted(every, rows)
    if len(at) and (
        at.max() >= len(every) or not (every[np.minimum(at, len(every) - 1)] == rows).all()
    ):
        raise RuntimeError("a row asked for has no decoded cover in the feature cache")
    return feats[at]
