"""Frozen-encoder fast path: encoder features computed once per split part and cached on disk.

With a frozen encoder every epoch would push the same images through the same network, so the
features are computed once (no augmentation), stored as `<cache>/features/<key>.safetensors`
keyed by model name, a hash of the encoder's weights, the image store, image size and the rows
of the part, and the head trains on them in seconds per epoch.
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
from torch.utils.data import DataLoader

from hiergenre.train.checkpoint import tensor_digest
from hiergenre.train.inputs import TensorPairs, TrainData
from hiergenre.train.loop import autocast, to_device

log = logging.getLogger(__name__)


class HeadOnly(nn.Module):
    """The trainable part of a frozen-encoder model: features (B, D) -> logits (B, K)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.label_space = model.label_space
        self.output = model.output

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, D) -> logits (B, K)."""
        return self.model.head(features)

    def node_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return self.model.node_probs(logits)


def encoder_is_frozen(model: nn.Module) -> bool:
    """True when the model has an encoder with no trainable parameter."""
    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(model, "head"):
        return False
    return bool(getattr(model, "encoder_frozen", False)) or not any(
        p.requires_grad for p in encoder.parameters()
    )


def cache_key(model_name: str, encoder: nn.Module, store_id: str, rows: np.ndarray) -> str:
    """Hex key over what the features depend on."""
    h = hashlib.sha256()
    h.update(model_name.encode())
    h.update(tensor_digest(dict(encoder.state_dict())).encode())
    h.update(store_id.encode())
    h.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    return h.hexdigest()[:24]


@torch.inference_mode()
def compute_features(
    model: nn.Module, dataset, device: torch.device, batch_size: int = 64, raw: bool = False
) -> torch.Tensor:
    """Encoder features (N, D) float32 of every item of an image dataset, in order.

    `raw`: the style encoder's vector before its PCA (`encoder.raw_features`)."""
    model.eval()
    extract = model.encoder.raw_features if raw else model.features
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    amp = torch.bfloat16 if device.type == "cuda" else None
    out = []
    for x, _ in loader:
        with autocast(device, amp):
            out.append(extract(to_device(x, device, device.type == "cuda")).float().cpu())
    dim = getattr(model.encoder, "feature_dim", 0)
    return torch.cat(out) if out else torch.zeros((0, dim))


def cached_features(
    model: nn.Module, dataset, key: str, cache_dir: Path, device: torch.device
) -> torch.Tensor:
    """Features from `<cache_dir>/<key>.safetensors`, computing and storing them when absent."""
    path = cache_dir / f"{key}.safetensors"
    if path.is_file():
        try:
            feats = load_file(path)["features"]
            if len(feats) == len(dataset):
                return feats
        except (SafetensorError, KeyError, OSError):
            log.warning("feature cache %s unreadable; recomputing", path)
    feats = compute_features(model, dataset, device)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{id(feats)}")
    save_file({"features": feats.contiguous()}, tmp)
    tmp.replace(path)
    return feats


def fit_reduction(model: nn.Module, train_set, device: torch.device) -> None:
    """Fit an encoder's pending PCA (the style encoder's `reduce_dim`) on the training images."""
    enc = model.encoder
    if getattr(enc, "reduce_dim", None) and not bool(getattr(enc, "pca_fitted", True)):
        model.to(device)
        enc.fit_reduction(compute_features(model, train_set, device, raw=True).to(device))


def feature_data(
    model: nn.Module,
    images: TrainData,
    rows: dict[str, np.ndarray],
    model_name: str,
    store_id: str,
    cache_dir: Path,
    device: torch.device,
    progress=None,
) -> TrainData:
    """Replace each part's image dataset by a dataset of its cached encoder features."""
    model.to(device)
    fit_reduction(model, images.datasets["train"], device)
    sets = {}
    for part, dataset in images.datasets.items():
        if progress is not None:
            progress("features", {"part": part, "n": len(dataset)})
        key = cache_key(model_name, model.encoder, store_id, rows[part])
        feats = cached_features(model, dataset, f"{model_name}-{part}-{key}", cache_dir, device)
        sets[part] = TensorPairs(feats, images.targets[part])
    return TrainData(sets, images.targets, images.label_sets, images.images, images.scoring)
