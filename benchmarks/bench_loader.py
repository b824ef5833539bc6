"""Images per second: the store-backed DataLoader versus decoding the JPEGs with PIL each epoch.

Same covers, same size, same DataLoader settings, same run. Uses ../shared/data/discogs-covers
(4,452 real 300x300 JPEGs) when present, else a synthetic set drawn at 300 px. Writes
benchmarks/results/loader.md.

    .venv/bin/python benchmarks/bench_loader.py [--size 128] [--epochs 2] [--workers 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hiergenre.data import CoverDataset, ImageStore, generate_synthetic
from hiergenre.data.images import ImageDecodeError, load_square
from hiergenre.data.manifest import Dataset, manifest_frame

DISCOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "discogs-covers"
RESULTS = Path(__file__).resolve().parent / "results" / "loader.md"


class DecodeEachTime(torch.utils.data.Dataset):
    """The baseline: open, decode, crop and resize the JPEG on every access."""

    def __init__(self, paths: list[Path], size: int):
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            pixels = load_square(self.paths[i], self.size)
        except ImageDecodeError:
            pixels = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div_(255.0)
        return x, torch.zeros(1)


def discogs_dataset() -> Dataset:
    rows = []
    for folder in sorted(p for p in DISCOGS.iterdir() if p.is_dir()):
        for file in sorted(folder.glob("*.jpg")):
            rows.append({"album_id": f"{folder.name}/{file.stem}", "image": str(file),
                         "labels": [], "group": "", "source": "discogs"})  # fmt: skip
    return Dataset(DISCOGS, manifest_frame(rows), {})


def images_per_second(data, batch: int, workers: int, epochs: int) -> float:
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers)
    seen, start = 0, time.perf_counter()
    for _ in range(epochs):
        for x, _ in loader:
            seen += x.shape[0]
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-loader-"))
    if DISCOGS.is_dir():
        dataset, source = discogs_dataset(), "discogs-covers (real 300x300 JPEGs)"
    else:
        dataset = generate_synthetic(tmp / "synth", n=3000, size=300, seed=0, difficulty=0.5)
        source = "synthetic 300x300 JPEGs"
    start = time.perf_counter()
    store = ImageStore.open_or_build(dataset, args.size, cache_dir=tmp / "store")
    build_s = time.perf_counter() - start
    rows = np.arange(len(dataset))
    stored = CoverDataset(store, rows, np.zeros((len(rows), 1), dtype=np.float32))
    decoded = DecodeEachTime(dataset.image_paths(), args.size)
    fast = images_per_second(stored, args.batch, args.workers, args.epochs)
    slow = images_per_second(decoded, args.batch, args.workers, args.epochs)
    lines = [
        "# Loader benchmark: image store vs PIL decode each epoch",
        "",
        f"- data: {source}, {len(dataset)} covers, resized to {args.size} px (center crop)",
        f"- DataLoader: batch {args.batch}, shuffle, num_workers {args.workers}, "
        f"{args.epochs} epochs each, torch threads 1",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
        "(shared with other jobs while measured)",
        f"- one-off store build (decode + resize + checksum): {build_s:.1f} s",
        "- command: `.venv/bin/python benchmarks/bench_loader.py "
        f"--size {args.size} --epochs {args.epochs} --workers {args.workers}`",
        "",
        "| loader | images/s |",
        "| --- | ---: |",
        f"| ImageStore memmap + CoverDataset | {fast:,.0f} |",
        f"| PIL decode (JPEG draft scaling on) + crop + resize each epoch | {slow:,.0f} |",
        f"| **ratio** | **{fast / slow:.1f}x** (target >= 5x) |",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
