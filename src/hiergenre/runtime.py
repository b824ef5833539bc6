"""CPU settings that make large tensors cheap: the heap instead of fresh mmap pages, and batches
sized for the cache (`batch_for`).

glibc serves every allocation above its mmap threshold (at most 32 MB, adjusted on the fly) with
fresh pages from the kernel, which are zeroed and faulted in on first touch, and returns them on
free. A CPU forward pass of lite0 on 64 covers of 224 px allocates activations of about 100 MB
per layer, so about half of its time went to page faults (`benchmarks/bench_malloc.py`: 2.1x the
covers per second once large blocks come from the heap). `tune_malloc` raises the mmap and trim
thresholds to 1 GiB; the CLI calls it at start, Python users may call it once themselves.
It changes speed and peak memory only (freed memory stays with the process for reuse), never a
number. A user's own `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` settings win.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
THRESHOLD = 1 << 30
BATCH, CPU_BATCH_PIXELS = 64, 1 << 20


def batch_for(size: int, device="cpu") -> int:
    """Covers per forward pass at `size` px: 64, or on CPU about a million pixels (64 covers of
    128 px, 20 of 224 px), which keeps activations in cache (benchmarks/results/malloc.md: lite0
    features at 224 px run faster in batches of 8-32 than of 64). `device`: str or torch.device."""
    if getattr(device, "type", str(device).split(":")[0]) != "cpu":
        return BATCH
    return int(max(8, min(BATCH, CPU_BATCH_PIXELS // (size * size))))


def shard_slice(n: int, rank: int, world: int, align: int = 1) -> slice:
    """The contiguous part of `n` items that rank `rank` of `world` takes: the parts of ranks
    0..world-1 in order are the items in order. Parts start at multiples of `align` (a batch
    size: every batch is then the batch one process would run, so the numbers are the same
    to the last digit) and differ in length by at most `align`.
    Example: n=5, world=2 -> [0:2], [2:5]; with align=4 -> [0:4], [4:5]."""
    units = -(-n // max(1, align))
    lo, hi = (units * r // world * align for r in (rank, rank + 1))
    return slice(min(lo, n), min(hi, n))


def tune_malloc(threshold: int = THRESHOLD) -> bool:
    """Raise glibc's mmap and trim thresholds to `threshold` bytes; True when they were set
    (Linux with glibc, and neither MALLOC_*_THRESHOLD_ variable set by the user)."""
    if not sys.platform.startswith("linux") or any(
        name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: nothing to tune
        return False
    ok = mallopt(M_MMAP_THRESHOLD, threshold) == 1 and mallopt(M_TRIM_THRESHOLD, threshold) == 1
    log.debug("malloc thresholds %s", "raised" if ok else "left as they were")
    return ok
