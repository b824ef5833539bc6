"""Frozen-encoder fast path: the head trains on encoder features computed once.

With a frozen encoder every epoch would push the same images through the same network, so the
features of every decoded cover are computed once (no augmentation) and cached on disk by
`hiergenre.featcache` (keyed by the encoder's class, settings and weights, the image store and
the preprocessing); each split part takes its rows, and the head fits on them in seconds.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from hiergenre.featcache import select, store_features
from hiergenre.train.inputs import TensorPairs, TrainData
from hiergenre.train.loop import autocast, to_device

log = logging.getLogger(__name__)


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


def fit_reduction(model: nn.Module, train_set, device: torch.device) -> None:
    """Fit an encoder's pending PCA (the style encoder's `reduce_dim`) on the training images."""
    enc = model.encoder
    if getattr(enc, "reduce_dim", None) and not bool(getattr(enc, "pca_fitted", True)):
        model.to(device)
        enc.fit_reduction(compute_features(model, train_set, device, raw=True).to(device))


def feature_data(
    model: nn.Module, images: TrainData, rows: dict[str, np.ndarray], device: torch.device,
    progress=None,
) -> TrainData:  # fmt: skip
    """Replace each part's image dataset by a dataset of its encoder features: every decoded
    cover's features come from `featcache.store_features` (computed once per encoder and
    reused by other splits, such as the benchmark's folds, and other heads); parts index them."""
    model.to(device)
    fit_reduction(model, images.datasets["train"], device)
    store, pre = images.images.store, images.images.preprocess
    feats, every = store_features(model, pre, store, device, progress)
    sets = {part: TensorPairs(select(feats, every, rows[part]), images.targets[part])
            for part in images.datasets}  # fmt: skip
    return TrainData(sets, images.targets, images.label_sets, images.images, images.scoring)
