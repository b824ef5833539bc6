"""Which layers' Gram statistics help on real covers: an ablation on the Discogs covers.

lite0 at 224 px, flip-averaged, pooled features plus the Gram statistics of a set of its layers;
a softmax probe (`hiergenre.train.probe`, L2 chosen on each fold's dev part) over the 5 genres, on
the benchmark's own 5 folds (`benchmark.folds.make_folds`, seed 230: those of
`hiergenre benchmark --folds 5`). The features of every layer come from one pass of the
project's own encoder per channel cap (`--features pooled+style` with every stage tapped), cached
by `hiergenre.featcache` (the cap 96 pass is the benchmark's own encoder, so after a benchmark run
it is free). Each variant keeps some of those columns. The cap-64 pass's first five blocks equal
the old default (stem + stages 0-3), since the projections are drawn in layer order.

Usage (needs an import of ../shared/data/discogs-covers; says so and exits when absent):
    hiergenre data import ../shared/data/discogs-covers --out /tmp/discogs
    .venv/bin/python benchmarks/bench_style_layers_discogs.py --data /tmp/discogs
Writes benchmarks/results/style_layers_discogs.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hiergenre.benchmark.folds import make_folds
from hiergenre.data import ImageStore, load_dataset
from hiergenre.featcache import store_features
from hiergenre.models import get_model
from hiergenre.models.frozen import FlipAveraged
from hiergenre.runtime import tune_malloc
from hiergenre.taxonomy import get_label_space, load_taxonomy, single_label_subset
from hiergenre.train.probe import ProbeConfig, fit_probe, flat_groups
from hiergenre.train.record import preprocess_for

OUT = Path(__file__).resolve().parent / "results" / "style_layers_discogs.md"
SIZE, POOLED = 224, 1280
GRID = (0.3, 1.0, 3.0)
# (label, channel cap, indices of the tapped layers whose Gram blocks are kept)
VARIANTS = (
    ("pooled only", 64, ()),
    ("stem + stages 0-3, cap 64 (the old default)", 64, (0, 1, 2, 3, 4)),
    ("stem + stages 0-5, cap 64", 64, (0, 1, 2, 3, 4, 5, 6)),
    ("stem + stages 0-6, cap 64", 64, tuple(range(8))),
    ("stem + stages 0-5, cap 96", 96, (0, 1, 2, 3, 4, 5, 6)),
    ("stem + stages 0-6, cap 96 (the default)", 96, tuple(range(8))),
)


def features(taxonomy, store, cap: int) -> tuple[np.ndarray, list[slice]]:
    """Every decoded cover's features at a channel cap, and the column slice of each layer."""
    model = get_model("style", None, taxonomy, max_channels=cap)
    model.encoder = FlipAveraged(model.encoder)
    feats, _ = store_features(model, preprocess_for(model, SIZE), store)
    edges = np.cumsum([0, *model.encoder.inner.block_dims])
    assert edges[-1] + POOLED == feats.shape[1], (edges[-1], feats.shape)
    return np.asarray(feats, np.float32), [
        slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]


def cross_validate(x: np.ndarray, y: np.ndarray, folds) -> tuple[float, float, list[float]]:
    """Mean, sd and per-fold test accuracy; x, y per dataset row (y < 0: not scored), folds the
    (train, dev, test) row arrays of each fold."""
    onehot = np.eye(int(y.max()) + 1)[np.maximum(y, 0)]
    groups = flat_groups(onehot.shape[1], "softmax")
    accs = []
    for train, dev, test in folds:
        train, dev, test = (r[y[r] >= 0] for r in (train, dev, test))
        parts = {"train": x[train], "dev": x[dev]}
        targets = {"train": onehot[train], "dev": onehot[dev]}
        fit = fit_probe(parts, targets, groups, ProbeConfig(l2_grid=GRID))
        accs.append(float(((x[test] @ fit.weight.T + fit.bias).argmax(1) == y[test]).mean()))
    return float(np.mean(accs)), float(np.std(accs)), accs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/discogs", help="an import of the Discogs covers")
    args = parser.parse_args()
    if not (Path(args.data) / "manifest.csv").is_file():
        sys.exit(f"no import at {args.data}: run `hiergenre data import "
                 f"../shared/data/discogs-covers --out {args.data}` first")  # fmt: skip
    tune_malloc()
    start = time.perf_counter()
    taxonomy = load_taxonomy()
    dataset = load_dataset(args.data, taxonomy)
    store = ImageStore.open_or_build(dataset, SIZE)
    y = single_label_subset(dataset.label_sets, get_label_space("level1", taxonomy))
    y[~store.ok] = -1  # no decoded cover: neither trained on nor scored
    y[y >= 0] = np.unique(y[y >= 0], return_inverse=True)[1]  # label-space index -> class 0..4
    folds = [tuple(split.rows(dataset, p) for p in ("train", "dev", "test"))
             for split in make_folds(dataset, taxonomy, 5)]  # fmt: skip
    by_cap = {cap: features(taxonomy, store, cap) for cap in (64, 96)}
    lines = []
    for label, cap, layers in VARIANTS:
        feats, slices = by_cap[cap]
        cols = [feats[:, slices[i]] for i in layers] + [feats[:, -POOLED:]]
        x = np.zeros((len(dataset), sum(c.shape[1] for c in cols)))
        x[store.ok] = np.concatenate(cols, axis=1)  # the cache holds the decoded covers' rows
        mean, sd, accs = cross_validate(x, y, folds)
        lines.append(f"| {label} | {x.shape[1]:,} | {mean:.3f} ± {sd:.3f} | "
                     f"{' '.join(f'{a:.3f}' for a in accs)} |")  # fmt: skip
        print(lines[-1], flush=True)
    seconds = time.perf_counter() - start
    OUT.write_text(
        "# Gram statistics of which lite0 layers: Discogs covers, 5 folds\n\n"
        f"{int((y >= 0).sum())} covers with one of 5 genres; lite0 at {SIZE} px, flip-averaged, "
        "pooled features plus the Gram blocks listed; a softmax probe (L2 from 0.3, 1, 3 chosen "
        "on each fold's dev part); the 5 folds of `hiergenre benchmark --folds 5`. Command:\n\n"
        "    .venv/bin/python benchmarks/bench_style_layers_discogs.py --data /tmp/discogs\n\n"
        f"{seconds:.0f} s on 2 CPU cores, the features' computation included when not cached.\n\n"
        "| features (pooled +) | dims | accuracy | per fold |\n|---|---|---|---|\n"
        + "\n".join(lines)
        + "\n"
    )
    print(f"wrote {OUT} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
