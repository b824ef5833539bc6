"""Datasets: import, fetch, manifests, splits, robust decoding, the image store, synthetic covers.

The torch-based loader (`CoverDataset`, the transforms) is imported on first use, so commands that
only read or write datasets start without torch.
"""

from typing import Any

from hiergenre.data.builtin import builtin_dir, resolve_dataset
from hiergenre.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from hiergenre.data.importer import ImportOptions, import_collection
from hiergenre.data.manifest import Dataset, load_dataset
from hiergenre.data.splits import SPLIT_MODES, Split, make_split
from hiergenre.data.store import ImageStore, cache_root
from hiergenre.data.synth import generate_synthetic

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SPLIT_MODES",
    "CoverDataset",
    "Dataset",
    "ImageDecodeError",
    "ImageStore",
    "ImportOptions",
    "Split",
    "builtin_dir",
    "cache_root",
    "decode_image",
    "eval_transform",
    "generate_synthetic",
    "import_collection",
    "load_dataset",
    "make_split",
    "resolve_dataset",
    "train_transform",
]

_LAZY = {"CoverDataset", "eval_transform", "train_transform"}


def __getattr__(name: str) -> Any:
    """Import the torch-based loader only when one of its names is asked for."""
    if name in _LAZY:
        from hiergenre.data import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'hiergenre.data' has no attribute {name!r}")
