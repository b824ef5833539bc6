"""The cheap baselines on the real Discogs covers: 5-fold stratified CV accuracy.

Reads ../shared/data/discogs-covers directly (PIL, 64 px), runs `MajorityBaseline`,
`ColorHistogramBaseline` and `PcaLdaKnnBaseline` from `hiergenre.baselines` on the same folds,
and writes benchmarks/results/baselines_discogs.md. The data README's floors: majority 0.224,
colour histogram + 16x16 thumbnail + LR 0.279, PCA + LDA + kNN 0.250.

    .venv/bin/python benchmarks/bench_baselines_discogs.py [--data PATH] [--size 64]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.model_selection import StratifiedKFold

from hiergenre.baselines import ColorHistogramBaseline, MajorityBaseline, PcaLdaKnnBaseline
from hiergenre.metrics import accuracy, balanced_accuracy, macro_f1
from hiergenre.taxonomy import LabelSpace, Taxonomy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "discogs-covers"
RESULTS = Path(__file__).parent / "results" / "baselines_discogs.md"
README_FLOORS = {"majority": 0.224, "colour-hist-lr": 0.279, "pca-lda-knn": 0.250}


def load_covers(data: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, size, size, 3) uint8 covers, (N,) class indices and the sorted genre names."""
    manifest = pd.read_csv(data / "manifest.csv")
    genres = sorted(manifest["genre"].unique())
    images = np.empty((len(manifest), size, size, 3), dtype=np.uint8)
    for row, rel in enumerate(manifest["path"]):
        with Image.open(data / rel) as im:
            im.draft("RGB", (size * 2, size * 2))  # JPEG DCT scaling: decode at >= 2x the size
            images[row] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
    labels = manifest["genre"].map({g: i for i, g in enumerate(genres)}).to_numpy()
    return images, labels, genres


def cross_validate(model_factory, images, labels, space, folds: int, seed: int) -> dict:
    """Mean and std of accuracy, balanced accuracy and macro F1 over stratified folds."""
    scores: dict[str, list[float]] = {"accuracy": [], "balanced_accuracy": [], "macro_f1": []}
    start = time.perf_counter()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(images, labels):
        model = model_factory().fit(images[train], labels[train], space, task="singlelabel")
        pred = model.predict_scores(images[test]).argmax(axis=1)
        scores["accuracy"].append(accuracy(labels[test], pred))
        scores["balanced_accuracy"].append(balanced_accuracy(labels[test], pred, space.size))
        scores["macro_f1"].append(macro_f1(labels[test], pred, space.size))
    out = {k: (float(np.mean(v)), float(np.std(v))) for k, v in scores.items()}
    out["seconds"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (args.data / "manifest.csv").exists():
        raise SystemExit(f"no manifest.csv under {args.data}; pass --data")
    start = time.perf_counter()
    images, labels, genres = load_covers(args.data, args.size)
    load_s = time.perf_counter() - start
    taxonomy = Taxonomy.from_parents({g: "Music" for g in genres})
    space = LabelSpace("discogs", taxonomy, tuple(genres))
    models = {
        "majority": MajorityBaseline,
        "colour-hist-lr": ColorHistogramBaseline,
        "pca-lda-knn": PcaLdaKnnBaseline,
    }
    lines = [
        "# Cheap baselines on discogs-covers (5-fold stratified CV)",
        "",
        f"{len(labels)} covers, {len(genres)} genres ({', '.join(genres)}), decoded at "
        f"{args.size} px in {load_s:.1f} s; folds shuffled with seed {args.seed}.",
        "Command: `.venv/bin/python benchmarks/bench_baselines_discogs.py`",
        "",
        "| baseline | accuracy | README floor | balanced accuracy | macro F1 | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, factory in models.items():
        res = cross_validate(factory, images, labels, space, args.folds, args.seed)
        acc, bal, f1 = res["accuracy"], res["balanced_accuracy"], res["macro_f1"]
        lines.append(
            f"| {name} | {acc[0]:.3f} ± {acc[1]:.3f} | {README_FLOORS[name]:.3f} | "
            f"{bal[0]:.3f} ± {bal[1]:.3f} | {f1[0]:.3f} ± {f1[1]:.3f} | {res['seconds']:.1f} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
