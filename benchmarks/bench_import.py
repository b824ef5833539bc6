"""`data import` at scale: images/s and peak memory for 10k and 30k synthetic covers.

Draws N distinct covers (smooth random blobs, 96 px JPEGs, 1% re-encoded near copies) with
genre labels from the shipped taxonomy's level 1, then imports the first 10k and all 30k
through the real importer (CSV read, genre resolution, parallel decode + hashing, duplicate
search, manifest + report), each in a fresh process so peak memory is its own. Linear cost
means the 30k/10k ratios of time and of memory growth stay near 3. Writes
benchmarks/results/import.md.

    nice .venv/bin/python benchmarks/bench_import.py [--sizes 10000,30000] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from hiergenre.taxonomy import load_taxonomy

RESULTS = Path(__file__).resolve().parent / "results" / "import.md"
CHILD = """
import json, resource, sys, time
from hiergenre.data import ImportOptions, import_collection
from hiergenre.taxonomy import load_taxonomy
tax = load_taxonomy()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
me = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = me.ru_utime + me.ru_stime
start = time.perf_counter()
ds = import_collection(sys.argv[1], sys.argv[2], tax, ImportOptions(workers=int(sys.argv[3])))
seconds = time.perf_counter() - start
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu0
rep = ds.report
print(json.dumps({"seconds": seconds, "cpu": cpu, "kept": rep["albums_kept"],
    "in": rep["albums_in"],
    "near": rep["duplicates"]["near_groups"],
    "base_mib": base / 1024,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def draw_covers(folder: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n JPEG covers under folder/img; 1% are re-encoded copies of another; (path, genre) rows."""
    rng = np.random.default_rng(seed)
    tax = load_taxonomy()
    genres = [g for g in tax.names if tax.level(g) == 1]
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        path = folder / "img" / f"{i:06d}.jpg"
        if i % 100 == 99:  # a re-encoded, rescaled copy of an earlier cover
            src = Image.open(folder / "img" / f"{i - 50:06d}.jpg").resize((80, 80))
            buf = io.BytesIO()
            src.save(buf, "JPEG", quality=70)
            path.write_bytes(buf.getvalue())
        else:
            small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            Image.fromarray(small).resize((96, 96), Image.Resampling.BICUBIC).save(path, "JPEG")
        rows.append((f"img/{path.name}", genres[int(rng.integers(len(genres)))]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        rows = draw_covers(root, max(sizes))
        print(f"drew {len(rows)} covers in {time.perf_counter() - start:.0f} s", flush=True)
        for n in sizes:
            csv = root / f"covers-{n}.csv"
            csv.write_text("image,labels\n" + "".join(f"{p},{g}\n" for p, g in rows[:n]))
            cmd = [sys.executable, "-c", CHILD, str(csv), str(root / f"ds-{n}"), str(args.workers)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res = {"n": n, **json.loads(out.stdout.strip().splitlines()[-1])}
            print(res, flush=True)
            results.append(res)
    write_results(results, args)


def write_results(results: list[dict], args) -> None:
    lines = []
    for r in results:
        rate = r["n"] / r["seconds"]
        lines.append(f"| {r['n']:,} | {r['kept']:,} | {r['near']} | {r['seconds']:.1f} | "
                     f"{r['cpu']:.1f} | {rate:,.0f} | {r['base_mib']:.0f} | {r['peak_mib']:.0f} | "
                     f"{r['worker_peak_mib']:.0f} |")  # fmt: skip
    a, b = results[0], results[-1]
    scale = b["n"] / a["n"]
    time_ratio = b["seconds"] / a["seconds"]
    cpu_ratio = b["cpu"] / a["cpu"]
    grow_a, grow_b = a["peak_mib"] - a["base_mib"], b["peak_mib"] - b["base_mib"]
    RESULTS.write_text(
        "# `data import` at scale: synthetic covers\n\n"
        "- covers: 96 px JPEGs of smooth random blobs, 1% re-encoded near copies; one level-1 "
        "genre each; imported from a CSV (read, resolve, decode + hash in parallel, duplicate "
        "search, manifest + report)\n"
        f"- {args.workers} decode workers; each size imported in a fresh process\n"
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs\n"
        f"- command: `nice .venv/bin/python benchmarks/bench_import.py --sizes {args.sizes} "
        f"--workers {args.workers}`\n\n"
        "| covers | kept | near groups | wall s | CPU s (all processes) | covers/s (wall) "
        "| RSS before MiB | peak RSS MiB | worker peak MiB |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        + "\n".join(lines)
        + f"\n\nFrom {a['n']:,} to {b['n']:,} covers ({scale:.1f}x): CPU time {cpu_ratio:.2f}x, "
        f"wall time {time_ratio:.2f}x (wall time moves with the other jobs on the machine), "
        f"main-process memory growth during the import {grow_a:.0f} -> {grow_b:.0f} MiB "
        f"({grow_b / max(grow_a, 1):.2f}x). Linear cost means both stay near {scale:.1f}x or "
        "below.\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
