"""ImageStore: every cover decoded and resized once into a memory-mapped uint8 array.

Layout in the cache dir: `store-<manifest digest>-<size>.npy` (N x S x S x 3, a plain .npy file
opened with `np.load(mmap_mode="r")`) and a JSON index beside it (album ids, ok mask, failures,
digest, size, one CRC32 per row). Covers are center-cropped to a square, then resized: album
covers are square or nearly so, and cropping keeps the picture's scale (padding would shrink it).
On open the index and the array are checked; any mismatch rebuilds with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import platformdirs

from hiergenre.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, load_square
from hiergenre.data.manifest import Dataset
from hiergenre.data.parallel import Progress, chunked_map
from hiergenre.fileio import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

STORE_VERSION = 1
RESIZE_POLICY = "center-crop"
FULL_CHECK_BYTES = 512 * 2**20  # verify every row up to this size, a sample of rows above it
_OPEN: dict[str, np.ndarray] = {}


def cache_root() -> Path:
    """`$HIERGENRE_CACHE` if set, else the user's cache dir for hiergenre."""
    env = os.environ.get("HIERGENRE_CACHE")
    return Path(env) if env else Path(platformdirs.user_cache_dir("hiergenre"))


def _store_dir(dataset: Dataset, cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("HIERGENRE_CACHE"):
        return cache_root() / "stores"
    local = dataset.root / ".cache"
    try:
        local.mkdir(parents=True, exist_ok=True)
        if os.access(local, os.W_OK):
            return local
    except OSError:
        pass
    return cache_root() / "stores"


class ImageStore:
    """Decoded covers: `images[i]` (S, S, 3) uint8 is dataset row i; `ok[i]` False if it failed."""

    def __init__(self, images: np.ndarray, ok: np.ndarray, failures: dict[str, str], path: Path):
        self.images = images
        self.ok = ok
        self.failures = failures
        self.path = path
        self.size = int(images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def usable(self, rows: np.ndarray) -> np.ndarray:
        """The rows among `rows` whose cover decoded."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows[self.ok[rows]]

    @classmethod
    def open_or_build(
        cls,
        dataset: Dataset,
        size: int,
        cache_dir: str | Path | None = None,
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> ImageStore:
        """Open the store for (dataset manifest, size), building it first if absent or invalid."""
        folder = _store_dir(dataset, cache_dir)
        stem = folder / f"store-{dataset.digest}-{size}"
        store = _open(stem, dataset, size)
        if store is None:
            _build(stem, dataset, size, progress, workers)
            store = _open(stem, dataset, size, check=False)
        if store is None:  # pragma: no cover - a build that cannot be reopened is a bug
            raise RuntimeError(f"image store {stem} unreadable right after building it")
        return store


def _open(stem: Path, dataset: Dataset, size: int, check: bool = True) -> ImageStore | None:
    index_path, array_path = stem.with_suffix(".json"), stem.with_suffix(".npy")
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        images = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        log.warning("image store %s is unreadable (%s): rebuilding", stem.name, exc)
        return None
    expected = (len(dataset), size, size, 3)
    problem = None
    if index.get("version") != STORE_VERSION or index.get("digest") != dataset.digest:
        problem = "made for another manifest"
    elif images.shape != expected or images.dtype != np.uint8 or index.get("size") != size:
        problem = f"shape {images.shape} != {expected}"
    elif index.get("album_ids") != dataset.album_ids:
        problem = "album ids differ"
    elif check and not _crc_ok(images, index["row_crc32"]):
        problem = "checksum mismatch"
    if problem:
        log.warning("image store %s: %s; rebuilding", stem.name, problem)
        return None
    ok = np.array(index["ok"], dtype=bool)
    return ImageStore(images, ok, dict(index["failures"]), array_path)


def _crc_ok(images: np.ndarray, crcs: list[int]) -> bool:
    n = images.shape[0]
    if images.nbytes <= FULL_CHECK_BYTES:
        rows = range(n)
    else:
        rows = np.random.default_rng(n).choice(n, size=256, replace=False)
    return len(crcs) == n and all(zlib.crc32(images[r].tobytes()) == crcs[r] for r in rows)


def _fill_row(item: tuple[int, str], array_path: str, size: int, max_pixels: int) -> str | None:
    """Decode one cover into row `item[0]` of the array file; the failure reason or None."""
    row, image = item
    arr = _OPEN.get(array_path)
    if arr is None:
        arr = _OPEN[array_path] = np.load(array_path, mmap_mode="r+")
    try:
        arr[row] = load_square(image, size, max_pixels)
    except ImageDecodeError as exc:
        return exc.reason
    return None


def _build(stem: Path, dataset: Dataset, size: int, progress, workers) -> None:
    """Decode every cover into a temporary array, checksum it, move it and its index in place."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    shape = (len(dataset), size, size, 3)
    log.info("building image store %s (%d covers at %d px)", stem.name, shape[0], size)
    with atomic_path(stem.with_suffix(".npy")) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        del arr  # workers open the file themselves
        fill = partial(_fill_row, array_path=str(tmp), size=size, max_pixels=DEFAULT_MAX_PIXELS)
        items = [(i, str(p)) for i, p in enumerate(dataset.image_paths())]
        try:
            reasons = chunked_map(fill, items, workers, progress)
        finally:
            _OPEN.pop(str(tmp), None)
        images = np.load(tmp, mmap_mode="r")
        crcs = [zlib.crc32(images[r].tobytes()) for r in range(shape[0])]
        del images
    ids = dataset.album_ids
    index = {
        "version": STORE_VERSION,
        "digest": dataset.digest,
        "size": size,
        "resize": RESIZE_POLICY,
        "album_ids": ids,
        "ok": [r is None for r in reasons],
        "failures": {ids[i]: r for i, r in enumerate(reasons) if r is not None},
        "row_crc32": crcs,
    }
    atomic_write_text(stem.with_suffix(".json"), json.dumps(index))  # the index last: it vouches
    if index["failures"]:
        log.warning("%d of %d covers could not be decoded", len(index["failures"]), shape[0])
