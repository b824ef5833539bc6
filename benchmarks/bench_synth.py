"""Synthetic covers: generate_synthetic against writing the same number of plain JPEGs.

The baseline encodes and writes random-noise JPEGs of the same size with PIL in one process: the
cost every cover generator pays. The ratio (generator time / baseline time, same run, median of
--reps) says what drawing the covers, sampling labels and writing the manifest add. It replaces a
wall-clock assertion the test suite used to make (3,000 covers at 128 px in under 30 s).
Writes benchmarks/results/synth.md.

    .venv/bin/python benchmarks/bench_synth.py [--n 3000] [--size 128] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from hiergenre.data import generate_synthetic
from hiergenre.taxonomy import load_taxonomy

RESULTS = Path(__file__).resolve().parent / "results" / "synth.md"


def plain_jpegs(out: Path, n: int, size: int) -> None:
    """The baseline: n random-noise JPEGs of size x size."""
    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(out / f"{i}.jpg", quality=90)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    tax = load_taxonomy()
    base, synth = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.reps):
            base.append(timed(lambda r=r: plain_jpegs(Path(tmp) / f"plain{r}", args.n, args.size)))
            synth.append(timed(lambda r=r: generate_synthetic(
                Path(tmp) / f"synth{r}", n=args.n, size=args.size, seed=0, difficulty=0.5,
                taxonomy=tax)))  # fmt: skip
    b, s = statistics.median(base), statistics.median(synth)
    lines = [
        "# Synthetic covers: generator against plain JPEG writing",
        "",
        f"- {args.n} covers at {args.size} px, {args.reps} repetitions each, interleaved, median",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs); the "
        "generator uses its default worker processes, the baseline one process",
        f"- command: `.venv/bin/python benchmarks/bench_synth.py --n {args.n} --size {args.size}"
        f" --reps {args.reps}`",
        "",
        "| step | seconds | covers/s |",
        "| --- | ---: | ---: |",
        f"| write {args.n} noise JPEGs with PIL (baseline) | {b:.1f} | {args.n / b:,.0f} |",
        f"| generate_synthetic | {s:.1f} | {args.n / s:,.0f} |",
        f"| **ratio generator / baseline** | **{s / b:.2f}x** | |",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
