"""Near-duplicate search: multi-index hashing vs all-pairs, on 100k and 1M covers' hashes.

Random 64-bit dHash/pHash values and colour layouts with planted near-duplicates (0-6 bits
flipped in each hash, colours jittered) and a crowd of flat covers (identical hashes, different
colours), as real collections have. Checks that the index search finds exactly the all-pairs
pairs (on the full 100k set: all-pairs is still affordable there, once) and records the speed
ratio at 100k (goal >= 20x) and the index search's time at 1M. Writes
benchmarks/results/dedupe.md.

    nice .venv/bin/python benchmarks/bench_dedupe.py [--sizes 100000,1000000] [--check 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from hiergenre.data.dedupe import (
    COLOUR_MAX_DIFF,
    NEAR_MAX_BITS,
    find_duplicates,
    near_pairs_all,
    near_pairs_index,
)

RESULTS = Path(__file__).resolve().parent / "results" / "dedupe.md"


def make_hashes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n rows of (dHash, pHash, colour layout); 2% planted near copies, 1% flat covers."""
    rng = np.random.default_rng(seed)
    dh = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    ph = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    col = rng.integers(0, 256, (n, 12)).astype(np.int16)
    flat = n // 100
    dh[:flat], ph[:flat] = 0, 1 << 63
    col[:flat] = rng.integers(0, 256, (flat, 1)) + rng.integers(0, 3, (flat, 12))
    planted = n // 50
    src = rng.integers(flat, n, planted)
    dst = rng.integers(flat, n, planted)
    for arr in (dh, ph):
        bits = rng.integers(0, 64, (planted, 6))
        use = np.arange(6)[None, :] < rng.integers(0, 7, planted)[:, None]
        masks = np.bitwise_or.reduce(np.where(use, np.uint64(1) << bits.astype(np.uint64), 0), 1)
        arr[dst] = arr[src] ^ masks.astype(np.uint64)
    col[dst] = np.clip(col[src] + rng.integers(-20, 21, (planted, 12)), 0, 255)
    return dh, ph, col


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--check", type=int, default=100_000, help="rows compared all-pairs")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    lines = []
    ratio_line = ""
    for n in sizes:
        dh, ph, col = make_hashes(n)
        fast, t_fast = timed(near_pairs_index, dh, ph, col, NEAR_MAX_BITS, COLOUR_MAX_DIFF)
        sha1s = [f"{i:x}" for i in range(n)]
        groups, t_groups = timed(find_duplicates, sha1s, dh, ph, col)
        row = f"| {n:,} | {len(fast):,} | {len(groups):,} | {t_fast:.2f} | {t_groups:.2f} |"
        if n <= args.check:
            slow, t_slow = timed(near_pairs_all, dh, ph, col, NEAR_MAX_BITS, COLOUR_MAX_DIFF)
            same = np.array_equal(fast, slow)
            row += f" {t_slow:.1f} | {'yes' if same else 'NO'} | {t_slow / t_fast:.0f}x |"
            if not same:
                raise SystemExit(f"index search differs from all-pairs at n={n}")
            ratio_line = f"**{t_slow / t_fast:.0f}x** at {n:,} hashes (goal >= 20x)"
        else:
            row += " - | - | - |"
        lines.append(row)
        print(row, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.write_text(
        "# Near-duplicate search: multi-index hashing vs all-pairs\n\n"
        f"- hashes: random 64-bit dHash + pHash and 12-value colour layouts; 2% planted near "
        f"copies (0-6 bits flipped per hash), 1% flat covers (same hashes, varied colours)\n"
        f"- near = both hashes within {NEAR_MAX_BITS} bits and colours within "
        f"{COLOUR_MAX_DIFF}; pairs compared exactly with all-pairs where timed\n"
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), "
        f"numpy {np.__version__}; peak RSS {peak:,.0f} MiB\n"
        f"- command: `nice .venv/bin/python benchmarks/bench_dedupe.py --sizes {args.sizes} "
        f"--check {args.check}`\n\n"
        "| hashes | near pairs | groups (with sha1) | index search s | find_duplicates s "
        "| all-pairs s | same pairs | speed-up |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: |\n"
        + "\n".join(lines)
        + f"\n\nSpeed-up of the index search over all-pairs: {ratio_line}.\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
