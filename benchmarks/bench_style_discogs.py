"""Style vs semantic features on ../shared/data/discogs-covers: 5-fold CV, logistic regression.

Reference: style + pooled lite0 features with a linear head reached 0.368 accuracy in a quick
5-fold stratified check; the project's `style` encoder should match or beat it.
Images are read directly with PIL and resized (the covers are square 300 px); features are
cached in /tmp. Usage:
    .venv/bin/python benchmarks/bench_style_discogs.py [--size 192] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hiergenre.models import get_model
from hiergenre.taxonomy import Taxonomy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "discogs-covers"
REFERENCE = 0.368


def list_images(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    genres = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for g, genre in enumerate(genres):
        for path in sorted((root / genre).iterdir()):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                paths.append(path)
                labels.append(g)
    return paths, np.array(labels), genres


def load(path: Path, size: int, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    with Image.open(path) as im:
        im = im.convert("RGB").resize((size, size), Image.BILINEAR)
        x = torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255
    return (x - mean) / std


def extract(paths: list[Path], size: int, batch: int) -> np.ndarray:
    tax = Taxonomy.from_parents({"a": "root", "b": "root"})
    model = get_model("style", None, tax, with_semantic=True).eval()
    mean = torch.tensor(model.input_mean)[:, None, None]
    std = torch.tensor(model.input_std)[:, None, None]
    out, start = [], time.time()
    with torch.no_grad():
        for lo in range(0, len(paths), batch):
            x = torch.stack([load(p, size, mean, std) for p in paths[lo : lo + batch]])
            out.append(model.encoder.raw_features(x).numpy())
            if lo // batch % 10 == 0:
                print(
                    f"  {lo + len(x)}/{len(paths)} images, {time.time() - start:.0f}s", flush=True
                )
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--C", type=float, nargs="+", default=[0.003, 0.01])
    parser.add_argument("--sets", nargs="+", default=["lite0", "style", "both"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} not found")
    paths, y, genres = list_images(DATA)
    cache = Path(f"/tmp/hiergenre_discogs_style_{args.size}_{len(paths)}.npy")
    if cache.exists():
        feats = np.load(cache)
    else:
        start = time.time()
        feats = extract(paths, args.size, args.batch)
        print(f"features {feats.shape} in {time.time() - start:.0f}s")
        np.save(cache, feats)
    semantic_dim = 1280  # the style encoder appends lite0's pooled features last
    sets = {"lite0": feats[:, -semantic_dim:], "style": feats[:, :-semantic_dim], "both": feats}
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    majority = np.bincount(y).max() / len(y)
    print(
        f"{len(y)} covers, {len(genres)} genres {genres}; majority {majority:.3f}, "
        f"reference {REFERENCE}, size {args.size} px"
    )
    for name in args.sets:
        x = sets[name]
        for c in args.C:
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300))
            acc = cross_val_score(clf, x, y, cv=folds, n_jobs=1)
            print(
                f"{name:6s} dim {x.shape[1]:5d} C={c:<5g} accuracy {acc.mean():.3f} "
                f"+- {acc.std():.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
