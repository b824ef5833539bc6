"""Iterative stratification (Sechidis, Tsoumakas & Vlahavas, ECML-PKDD 2011) over groups.

The unit of assignment is a group of albums that must stay together (one album, one artist, or a
set of duplicate covers). Labels are handled rarest first; each unit holding the current label
goes to the part that still wants that label most (ties: the part that wants most albums overall,
then a seeded coin). Rare labels therefore land in the largest part (train) first.
"""

from __future__ import annotations

import numpy as np


def iterative_stratification(
    unit_counts: np.ndarray, unit_sizes: np.ndarray, ratios: tuple[float, ...], seed: int
) -> np.ndarray:
    """Part index per unit. `unit_counts`: (U, L) albums per unit per label; `unit_sizes`: (U,).

    Example: 10 single-album units, one label on units 0-2, ratios (0.8, 0.1, 0.1): units 0-2 all
    go to part 0, because part 0 still wants 2.4 of that label and the others 0.3 each.
    """
    rng = np.random.default_rng(seed)
    counts = np.asarray(unit_counts, dtype=np.float64)
    sizes = np.asarray(unit_sizes, dtype=np.float64)
    ratio = np.asarray(ratios, dtype=np.float64)
    n_units, n_labels = counts.shape
    want_label = ratio[:, None] * counts.sum(0)[None, :]  # (P, L)
    want_total = ratio * sizes.sum()
    part = np.full(n_units, -1, dtype=np.int64)
    remaining = counts.sum(0)
    units_of = [np.flatnonzero(counts[:, j]) for j in range(n_labels)]
    while True:
        live = np.flatnonzero(remaining > 0)
        if live.size == 0:
            break
        label = live[np.argmin(remaining[live])]
        todo = units_of[label][part[units_of[label]] < 0]
        for unit in rng.permutation(todo):
            p = _choose(want_label[:, label], want_total, rng)
            part[unit] = p
            want_label[p] -= counts[unit]
            want_total[p] -= sizes[unit]
            remaining -= counts[unit]
    for unit in rng.permutation(np.flatnonzero(part < 0)):  # albums without any label
        p = _choose(want_total, want_total, rng)
        part[unit] = p
        want_total[p] -= sizes[unit]
    return part


def _choose(primary: np.ndarray, secondary: np.ndarray, rng: np.random.Generator) -> int:
    best = np.flatnonzero(primary == primary.max())
    if best.size > 1:
        best = best[secondary[best] == secondary[best].max()]
    return int(best[0] if best.size == 1 else rng.choice(best))
