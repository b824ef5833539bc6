"""A small process pool for per-file work (decode, hash, draw) with a progress callback."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

Progress = Callable[[int, int], None]


def default_workers(n_items: int) -> int:
    """Processes worth starting for `n_items` files: 1 for small jobs, else up to 4 cores."""
    if n_items < 256:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def _run_chunk(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [func(item) for item in items]


def chunked_map(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int | None = None,
    progress: Progress | None = None,
    chunk: int = 64,
) -> list[Any]:
    """`[func(x) for x in items]`, in order, over `workers` processes; `progress(done, total)`.

    `func` must be a module-level function. The pool forks where the platform allows (workers only
    touch numpy and PIL), so it starts in milliseconds.
    """
    total = len(items)
    workers = default_workers(total) if workers is None else workers
    if progress:
        progress(0, total)
    if workers <= 1 or total <= chunk:
        out = []
        for i, item in enumerate(items):
            out.append(func(item))
            if progress and ((i + 1) % chunk == 0 or i + 1 == total):
                progress(i + 1, total)
        return out
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    parts = [items[i : i + chunk] for i in range(0, total, chunk)]
    out, done = [], 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        for part in pool.map(_run_chunk, [func] * len(parts), parts):
            out.extend(part)
            done += len(part)
            if progress:
                progress(done, total)
    return out
