"""Train / dev / test splits: deterministic from a seed, saved as JSON next to each run.

Modes: `multilabel` (80/10/10, iterative stratification over the closed labels), `singlelabel`
(60/20/20 over the albums with exactly one koenig12 genre, stratified on it), and the poster's
`koenig-multilabel` / `koenig-singlelabel` (sorted ids, `random.seed(230)` shuffle, plain cuts).
Covers kept as duplicates always share a part; `group_aware` also keeps each artist in one part.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from networkx.utils import UnionFind

from hiergenre.data.manifest import Dataset
from hiergenre.data.stratify import iterative_stratification
from hiergenre.errors import ConfigError, DataError, UnknownGenreError
from hiergenre.fileio import atomic_write_text
from hiergenre.taxonomy import Taxonomy, get_label_space, single_label_subset

log = logging.getLogger(__name__)

SPLIT_MODES = ("multilabel", "singlelabel", "koenig-multilabel", "koenig-singlelabel")
PARTS = ("train", "dev", "test")
RATIOS = {"multilabel": (0.8, 0.1, 0.1), "singlelabel": (0.6, 0.2, 0.2)}
MIN_ALBUMS_FOR_TRAIN = 3


@dataclass(frozen=True)
class Split:
    """Album ids per part plus how they were drawn."""

    train: tuple[str, ...]
    dev: tuple[str, ...]
    test: tuple[str, ...]
    mode: str
    seed: int
    group_aware: bool = False
    dataset_digest: str = ""

    def part(self, name: str) -> tuple[str, ...]:
        if name not in PARTS:
            raise ConfigError(f"unknown split part {name!r}: choose train, dev or test.")
        return getattr(self, name)

    def rows(self, dataset: Dataset, part: str) -> np.ndarray:
        """Row indices (int64) of `dataset` in this part, in the part's order."""
        pos = {aid: i for i, aid in enumerate(dataset.album_ids)}
        ids = self.part(part)
        missing = [a for a in ids if a not in pos]
        if missing:
            raise DataError(
                f"split has {len(missing)} albums not in the dataset (e.g. {missing[0]!r}); "
                "make a new split for this dataset."
            )
        return np.array([pos[a] for a in ids], dtype=np.int64)

    def save(self, path: str | Path) -> Path:
        """Write the split as JSON (atomically: a crash never leaves half a split)."""
        path = Path(path)
        atomic_write_text(path, json.dumps(asdict(self), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a split written by `save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**{**data, **{p: tuple(data[p]) for p in PARTS}})
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"cannot read split {path} ({exc}); make it again.") from None


def make_split(
    dataset: Dataset,
    mode: str,
    seed: int = 230,
    taxonomy: Taxonomy | None = None,
    group_aware: bool = False,
) -> Split:
    """Split a dataset (see the module docstring for the modes)."""
    if mode not in SPLIT_MODES:
        raise ConfigError(f"unknown split mode {mode!r}: choose one of {', '.join(SPLIT_MODES)}.")
    ids = dataset.album_ids
    if mode.endswith("singlelabel"):
        classes = _single_label_classes(dataset, taxonomy)
        rows = np.flatnonzero(classes >= 0)
        log.info("single-label selection keeps %d of %d albums", rows.size, len(ids))
    else:
        rows = np.arange(len(ids))
    if mode.startswith("koenig"):
        if group_aware:
            raise ConfigError("koenig modes reproduce the poster without groups; drop group_aware.")
        parts = _koenig_parts([ids[r] for r in rows], RATIOS[mode.split("-")[1]], seed)
    else:
        if mode == "singlelabel":
            names = [[str(c)] for c in classes[rows]]
        else:
            sets = dataset.label_sets
            names = [sorted(taxonomy.close(sets[r])) if taxonomy else sets[r] for r in rows]
        parts = _stratified_parts(dataset, rows, names, RATIOS[mode], seed, group_aware)
    return Split(*(tuple(p) for p in parts), mode=mode, seed=seed, group_aware=group_aware,
                 dataset_digest=dataset.digest)  # fmt: skip


def _single_label_classes(dataset: Dataset, taxonomy: Taxonomy | None) -> np.ndarray:
    if taxonomy is None:
        raise ConfigError("single-label splits need the taxonomy: pass taxonomy=...")
    try:
        space = get_label_space("koenig12", taxonomy)
    except UnknownGenreError:
        log.warning("taxonomy lacks the koenig12 genres: single-label split uses level-1 genres")
        space = get_label_space("level1", taxonomy)
    return single_label_subset(dataset.label_sets, space, close=True)


def _koenig_parts(ids: list[str], ratios: tuple[float, ...], seed: int) -> list[list[str]]:
    """The poster's procedure: sort, `random.seed(seed)`, shuffle, cut at the ratios."""
    order = sorted(ids)
    random.Random(seed).shuffle(order)  # same sequence as random.seed(seed); random.shuffle(order)
    a = int(ratios[0] * len(order))
    b = int((ratios[0] + ratios[1]) * len(order))
    return [order[:a], order[a:b], order[b:]]


def _units(dataset: Dataset, rows: np.ndarray, group_aware: bool) -> np.ndarray:
    """Unit id per selected row: rows joined by duplicate covers and, if asked, by group."""
    units = UnionFind(int(r) for r in rows)

    def join(members: list[int]) -> None:
        members = [m for m in members if m in units.parents]
        if len(members) > 1:
            units.union(*members)

    pos = {aid: i for i, aid in enumerate(dataset.album_ids)}
    for group in dataset.duplicate_groups:
        join([pos[a] for a in group if a in pos])
    if group_aware:
        by_group: dict[str, list[int]] = {}
        groups = dataset.groups
        for r in rows:
            g = groups[r]
            if g:
                by_group.setdefault(g, []).append(int(r))
        for members in by_group.values():
            join(members)
    first = {}  # component -> its smallest row: unit ids do not depend on union order
    for members in units.to_sets():
        low = min(members)
        first.update(dict.fromkeys(members, low))
    _, unit = np.unique([first[int(r)] for r in rows], return_inverse=True)
    return unit


def _stratified_parts(dataset, rows, names, ratios, seed, group_aware) -> list[list[str]]:
    """Iterative stratification over units, then move units so rare labels reach train."""
    unit = _units(dataset, rows, group_aware)
    vocab = {n: j for j, n in enumerate(sorted({n for row in names for n in row}))}
    counts = np.zeros((unit.max() + 1 if rows.size else 0, len(vocab)), dtype=np.float32)
    for u, row in zip(unit, names, strict=True):
        for n in row:
            counts[u, vocab[n]] += 1
    sizes = np.bincount(unit, minlength=counts.shape[0])
    part = iterative_stratification(counts, sizes, ratios, seed)
    totals = counts.sum(0)
    for j in np.flatnonzero(totals >= MIN_ALBUMS_FOR_TRAIN):
        holders = np.flatnonzero(counts[:, j] > 0)
        if not (part[holders] == 0).any():
            smallest = holders[np.argmin(sizes[holders])]
            part[smallest] = 0
            log.debug("moved a unit to train so label %d reaches it", j)
    ids = dataset.album_ids
    return [[ids[r] for r, u in zip(rows, unit, strict=True) if part[u] == p] for p in range(3)]
