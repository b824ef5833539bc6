"""K-fold splits for the benchmark: stratified, group-aware whenever the dataset has groups.

The units of assignment are those of `make_split`: duplicate covers always stay together, and
when any album names a group (artist) every group stays in one fold, so an artist's look cannot
leak from train to test. Units are dealt into K folds by iterative stratification over their
closed labels (the multilabel split's procedure with K equal ratios). Fold i tests on part i;
the other parts are split again, stratified, into train and dev (dev about `DEV_SHARE` of all
albums). Every fold is a `Split`, saved as JSON like any other, so a fold's runs are ordinary
runs loadable by `evaluate` / `predict` / `export`.
"""

from __future__ import annotations

import logging

import numpy as np

from hiergenre.data import Split
from hiergenre.data.splits import _units
from hiergenre.data.stratify import iterative_stratification
from hiergenre.errors import ConfigError, DataError

log = logging.getLogger(__name__)
DEV_SHARE = 0.1
MIN_FOLDS = 2
MAX_FOLDS = 20


def has_groups(dataset) -> bool:
    """True when at least one album names a group (artist)."""
    return any(bool(g) for g in dataset.groups)


def _unit_counts(dataset, taxonomy, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U, L) albums per unit per closed label, and (U,) albums per unit."""
    sets = [sorted(taxonomy.close(labels)) for labels in dataset.label_sets]
    vocab = {n: j for j, n in enumerate(sorted({n for row in sets for n in row}))}
    counts = np.zeros((unit.max() + 1, len(vocab)), dtype=np.float32)
    for u, row in zip(unit, sets, strict=True):
        for n in row:
            counts[u, vocab[n]] += 1
    return counts, np.bincount(unit, minlength=counts.shape[0])


def make_folds(dataset, taxonomy, k: int, seed: int = 230) -> list[Split]:
    """K folds (see module doc): `Split`s whose test parts partition the dataset."""
    if not MIN_FOLDS <= k <= MAX_FOLDS:
        raise ConfigError(f"`folds` must be between {MIN_FOLDS} and {MAX_FOLDS}, got {k}")
    grouped = has_groups(dataset)
    rows = np.arange(len(dataset))
    unit = _units(dataset, rows, grouped)
    if unit.max() + 1 < 3 * k:
        raise DataError(
            f"{len(dataset)} albums in {unit.max() + 1} groups cannot make {k} folds: "
            f"use at least {3 * k} albums (or groups), or fewer `folds`"
        )
    counts, sizes = _unit_counts(dataset, taxonomy, unit)
    fold = iterative_stratification(counts, sizes, (1.0 / k,) * k, seed)
    dev_share = min(0.5, DEV_SHARE / (1.0 - 1.0 / k))
    ids = dataset.album_ids
    out = []
    for i in range(k):
        rest = np.flatnonzero(fold != i)
        inner = iterative_stratification(counts[rest], sizes[rest], (1 - dev_share, dev_share),
                                          seed + 1 + i)  # fmt: skip
        part = np.full(len(fold), 2)
        part[rest] = inner
        names = [[ids[r] for r in rows if part[unit[r]] == p] for p in range(3)]
        if not all(names):
            raise DataError(f"fold {i + 1} of {k} has an empty part: use fewer `folds`")
        out.append(Split(*(tuple(n) for n in names), mode=f"fold-{i + 1}-of-{k}", seed=seed,
                         group_aware=grouped, dataset_digest=dataset.digest))  # fmt: skip
    log.info("%d folds, %s", k, "group-aware" if grouped else "no groups in the dataset")
    return out
