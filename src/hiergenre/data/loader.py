"""Torch side of the data: a Dataset over an ImageStore and the transform presets."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torchvision.transforms import v2

from hiergenre.data.store import ImageStore
from hiergenre.errors import DataError

log = logging.getLogger(__name__)


class CoverDataset(torch.utils.data.Dataset):
    """Yields `(image (3, S, S) float in [0, 1] then transformed, target)` for store rows.

    `targets[i]` belongs to `rows[i]` (shape (len(rows), K) or (len(rows),) class ids). Rows whose
    cover failed to decode are left out, with their targets; `self.rows` / `self.targets` hold
    what remains, so predictions line up with `self.rows`.
    """

    def __init__(self, store: ImageStore, rows, targets, transform=None):
        rows = np.asarray(rows, dtype=np.int64)
        targets = np.asarray(targets)
        if len(targets) != len(rows):
            raise DataError(
                f"CoverDataset got {len(rows)} rows but {len(targets)} targets; "
                "pass one target per row."
            )
        keep = store.ok[rows]
        if not keep.all():
            log.warning("leaving out %d rows whose cover failed to decode", int((~keep).sum()))
        self.store = store
        self.rows = rows[keep]
        self.targets = targets[keep]
        self.transform = transform
        is_float = np.issubdtype(self.targets.dtype, np.floating)
        self._target_dtype = torch.float32 if is_float else torch.int64

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = torch.from_numpy(np.array(self.store.images[self.rows[i]]))  # (S, S, 3) uint8
        x = pixels.permute(2, 0, 1).float().div_(255.0)
        if self.transform is not None:
            x = self.transform(x)
        return x, torch.as_tensor(self.targets[i], dtype=self._target_dtype)


def train_transform(
    *,
    size: int | None = None,
    flip: float = 0.5,
    brightness: float = 0.2,
    saturation: float = 0.2,
) -> v2.Compose:
    """The poster's augmentation on [0, 1] images: horizontal flip, random brightness and
    saturation. Normalisation is the model's (`inference.Preprocess.normalize`), applied after."""
    steps: list = [v2.Resize((size, size), antialias=True)] if size else []
    steps.append(v2.RandomHorizontalFlip(p=flip))
    if brightness or saturation:
        steps.append(v2.ColorJitter(brightness=brightness, saturation=saturation))
    return v2.Compose(steps or [v2.Identity()])


def eval_transform(*, size: int | None = None) -> v2.Compose:
    """Evaluation preset on [0, 1] images: optional resize, nothing random (normalisation is
    the model's `inference.Preprocess`)."""
    steps: list = [v2.Resize((size, size), antialias=True)] if size else []
    return v2.Compose(steps or [v2.Identity()])
