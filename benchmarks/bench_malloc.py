"""Covers per second of lite0's frozen features on CPU, before and after `tune_malloc`.

One process, the same encoder and batch of random 224-px covers: first with glibc's default
malloc thresholds (large activations are fresh mmap pages, zeroed and faulted in on every
forward pass), then after `hiergenre.runtime.tune_malloc()` (they come from the heap). A
smaller batch is timed too: it stays under glibc's mmap threshold on its own. Rounds alternate
within each setting and the best round counts. Writes benchmarks/results/malloc.md.

    .venv/bin/python benchmarks/bench_malloc.py [--batch 64] [--size 224] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from hiergenre.models.lite0 import Lite0Encoder
from hiergenre.runtime import tune_malloc

RESULTS = Path(__file__).resolve().parent / "results" / "malloc.md"


@torch.inference_mode()
def rate(encoder: torch.nn.Module, batch: int, size: int, seconds: float) -> float:
    """Best of three rounds of covers per second (forward passes of one batch)."""
    x = torch.rand(batch, 3, size, size)
    encoder(x)
    best = 0.0
    for _ in range(3):
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < seconds / 3:
            encoder(x)
            n += batch
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if any(k.startswith("MALLOC_") for k in os.environ):
        raise SystemExit("unset the MALLOC_* variables first: this compares glibc's defaults")
    encoder = Lite0Encoder().eval()
    small = max(1, args.batch // 8)
    before = {b: rate(encoder, b, args.size, args.seconds) for b in (args.batch, small)}
    tuned = tune_malloc()
    after = {b: rate(encoder, b, args.size, args.seconds) for b in (args.batch, small)}
    lines = [
        "# Frozen lite0 features on CPU: glibc's malloc defaults vs `tune_malloc`",
        "",
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"{args.size} px random covers, best of 3 rounds of {args.seconds / 3:.1f} s; "
        f"tune_malloc applied: {tuned}.",
        "",
        "    .venv/bin/python benchmarks/bench_malloc.py "
        f"--batch {args.batch} --size {args.size} --seconds {args.seconds:g}",
        "",
        "| batch | default (covers/s) | tuned (covers/s) | ratio |",
        "|---|---|---|---|",
    ]
    for b in (args.batch, small):
        lines.append(f"| {b} | {before[b]:.1f} | {after[b]:.1f} | {after[b] / before[b]:.2f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
