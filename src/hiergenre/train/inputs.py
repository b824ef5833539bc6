"""What a run trains and evaluates on: targets per model output, torch datasets per split part."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from hiergenre.data.loader import CoverDataset, train_transform
from hiergenre.data.store import ImageStore
from hiergenre.errors import DataError
from hiergenre.evaluate import Scoring
from hiergenre.inference import Preprocess
from hiergenre.taxonomy import LabelSpace, single_label_subset

log = logging.getLogger(__name__)
PARTS = ("train", "dev", "test")


@dataclass(frozen=True)
class ImageParts:
    """Where a part's covers come from for the one inference path: store rows + preprocessing."""

    store: Any  # hiergenre.data.store.ImageStore
    rows: dict[str, np.ndarray]
    preprocess: Preprocess


@dataclass
class TrainData:
    """Torch datasets yielding `(input, target)` per part, and what the metrics need beside them.

    `targets[part]`: (N,) class ids (softmax) or (N, K) multi-hot over the label space, in dataset
    order; `label_sets[part]`: the same albums' genre labels (what every metric scores against);
    `images`: the covers behind the parts (None for in-memory tensors), which the final dev and
    test scores go through (`inference.predict_rows`); `scoring`: the classes and nodes a run is
    scored on (None: the model's label space and `evaluate.default_classes`).
    """

    datasets: dict[str, TorchDataset]
    targets: dict[str, np.ndarray]
    label_sets: dict[str, list[list[str]]]
    images: ImageParts | None = None
    scoring: Scoring | None = None


def make_targets(
    output: str, space: LabelSpace, label_sets: list[list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Targets for a model output and the mask of albums that have one.

    softmax: class ids (N,) int64 by the poster's exactly-one-of rule, kept where >= 0;
    sigmoid / hierarchical: multi-hot (N, size) float32, ancestor-closed, all kept.
    """
    if output == "softmax":
        ids = single_label_subset(label_sets, space)
        return ids, ids >= 0
    return space.encode(label_sets), np.ones(len(label_sets), dtype=bool)


def part_rows(dataset, split, part: str, keep: np.ndarray, ok: np.ndarray | None) -> np.ndarray:
    """Dataset rows of a split part that have a target (and a decoded cover)."""
    rows = np.asarray(split.rows(dataset, part), dtype=np.int64)
    mask = keep[rows] if ok is None else keep[rows] & ok[rows]
    dropped = int((~mask).sum())
    if dropped:
        log.info(
            "%s: %d of %d albums have no target or cover and are left out", part, dropped, len(rows)
        )
    return rows[mask]


class Augmented:
    """Augmentation on [0, 1] images, then the model's one normalisation (picklable)."""

    def __init__(self, augment, preprocess: Preprocess):
        self.augment = augment
        self.preprocess = preprocess

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(3, S, S) in [0, 1] -> the model's input."""
        return self.preprocess.normalize(self.augment(x) if self.augment else x)


def image_data(
    model, dataset, split, preprocess: Preprocess, augment: bool, store=None,
    scoring: Scoring | None = None,
) -> tuple:  # fmt: skip
    """TrainData over decoded covers, plus the store and the rows of each part."""

    space = model.label_space
    labels = dataset.label_sets
    targets, keep = make_targets(model.output, space, labels)
    store = store or ImageStore.open_or_build(dataset, preprocess.size)
    rows, sets, tgt, sets_of = {}, {}, {}, {}
    for part in PARTS:
        rows[part] = part_rows(dataset, split, part, keep, store.ok)
        if part == "train" and len(rows[part]) == 0:
            raise DataError(
                "the training split is empty for this model's label space: "
                "check `split` and `label_space`"
            )
        augmenting = part == "train" and augment
        transform = Augmented(train_transform() if augmenting else None, preprocess)
        sets[part] = CoverDataset(store, rows[part], targets[rows[part]], transform)
        tgt[part] = targets[rows[part]]
        sets_of[part] = [labels[i] for i in rows[part]]
    images = ImageParts(store, rows, preprocess)
    return TrainData(sets, tgt, sets_of, images, scoring), store, rows


class TensorPairs(TorchDataset):
    """A dataset of (x[i], y[i]) from two aligned tensors (features and targets)."""

    def __init__(self, x: torch.Tensor, y: np.ndarray):
        self.x = x
        self.y = torch.as_tensor(y)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def class_counts(output: str, targets: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per class in the training targets, each (size,)."""
    if output == "softmax":
        pos = np.bincount(targets.astype(np.int64), minlength=size).astype(np.float64)
    else:
        pos = targets.sum(0).astype(np.float64)
    return pos, len(targets) - pos


def sample_weights(output: str, targets: np.ndarray, size: int) -> np.ndarray:
    """Per-album weights for balanced sampling: inverse class frequency (mean over its labels)."""
    pos, _ = class_counts(output, targets, size)
    inv = 1.0 / np.maximum(pos, 1.0)
    if output == "softmax":
        return inv[targets.astype(np.int64)]
    labelled = targets.sum(1)
    w = (targets @ inv) / np.maximum(labelled, 1.0)
    return np.where(labelled > 0, w, inv.min())
