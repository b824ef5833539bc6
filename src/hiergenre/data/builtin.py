"""`resolve_dataset`: a dataset path, or the built-in synthetic set generated once in the cache."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from hiergenre.data.manifest import MANIFEST, REPORT, Dataset, load_dataset
from hiergenre.data.parallel import Progress
from hiergenre.data.store import cache_root
from hiergenre.data.synth import (
    DEFAULT_DIFFICULTY,
    DEFAULT_N,
    DEFAULT_SEED,
    DEFAULT_SIZE,
    generate_synthetic,
)
from hiergenre.taxonomy import Taxonomy

log = logging.getLogger(__name__)


def builtin_dir(taxonomy: Taxonomy) -> Path:
    """Where the built-in synthetic set for this taxonomy lives (under `cache_root()`)."""
    name = (f"synth-n{DEFAULT_N}-s{DEFAULT_SIZE}-seed{DEFAULT_SEED}-d{DEFAULT_DIFFICULTY}"
            f"-{taxonomy.digest[:8]}")  # fmt: skip
    return cache_root() / name


def resolve_dataset(
    path: str | Path | None, taxonomy: Taxonomy, progress: Progress | None = None
) -> Dataset:
    """Load the dataset at `path`; None: the built-in synthetic set (generated on first use)."""
    if path is not None:
        return load_dataset(path, taxonomy)
    target = builtin_dir(taxonomy)
    if (target / MANIFEST).is_file() and (target / REPORT).is_file():
        return load_dataset(target, taxonomy)
    log.info("generating the built-in synthetic cover set into %s", target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    generate_synthetic(tmp, DEFAULT_N, DEFAULT_SIZE, DEFAULT_SEED, DEFAULT_DIFFICULTY, taxonomy,
                       progress=progress)  # fmt: skip
    try:
        os.rename(tmp, target)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / MANIFEST).is_file():
            raise
    return load_dataset(target, taxonomy)
