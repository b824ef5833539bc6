"""`hiergenre predict` on two gloo ranks under torchrun against one process, same real covers.

Same lite0 run (trained here for one epoch on 64 synthetic covers, as in bench_predict.py), same
covers (../shared/data/discogs-covers, real 300x300 JPEGs, linked into a folder), same options:
- one process: `python -m hiergenre predict COVERS --run RUN --out one.csv` (2 torch threads);
- two ranks: `python -m torch.distributed.run --nproc-per-node 2 -m hiergenre -- predict ...
  --out two.csv`, the CSV merged by rank 0. Each rank keeps 2 torch threads (OMP_NUM_THREADS=2;
  torchrun's default is 1): CPU kernels may round differently with another thread count on a
  small last batch, and the point is an identical file (4 threads on 2 cores here).
Wall time includes each process's start (imports, loading the run) and, for the ranks, joining
the gloo group and merging. The two CSVs must be byte for byte identical. On a machine with 2
cores the two ranks share the cores one process already uses, so no speed-up is expected there;
the point is that the sharded output is the same. Writes benchmarks/results/shards.md.

    .venv/bin/python benchmarks/bench_shards.py [--n 2000] [--image-size 224]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_predict import discogs_dir, link_covers, train_lite0  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "shards.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    source = discogs_dir()
    if source is None:
        sys.exit("needs ../shared/data/discogs-covers (or HIERGENRE_SHARED): real covers only")
    tmp = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    n = link_covers(source, args.n, tmp / "covers")
    run_dir = train_lite0(tmp, args.image_size)  # sets HIERGENRE_CACHE under tmp
    env = {**os.environ}
    common = ["predict", str(tmp / "covers"), "--run", str(run_dir), "--device", "cpu",
              "--quiet", "--batch-size", "32"]  # fmt: skip
    loads = [f"{os.getloadavg()[0]:.1f}"]
    one = run([sys.executable, "-m", "hiergenre", *common, "--out", str(tmp / "one.csv")], env)
    loads.append(f"{os.getloadavg()[0]:.1f}")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                "--master-addr", "127.0.0.1", "--master-port", str(free_port())]  # fmt: skip
    env2 = {**env, "OMP_NUM_THREADS": "2"}  # as many threads per rank as the one process
    two = run([*torchrun, "-m", "hiergenre", "--", *common, "--out", str(tmp / "two.csv")], env2)
    loads.append(f"{os.getloadavg()[0]:.1f}")
    same = (tmp / "one.csv").read_bytes() == (tmp / "two.csv").read_bytes()
    rows = len((tmp / "one.csv").read_text().splitlines()) - 1
    lines = [
        "# Sharded predict: two gloo ranks under torchrun vs one process",
        "",
        f"- covers: {n} real Discogs covers (300x300 JPEGs), linked into a folder; model: lite0 "
        f"(445 outputs) at {args.image_size} px, batch 32, CPU",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared "
        f"with other jobs while measured); load average (1 min) before, between, after: "
        f"{', '.join(loads)}",
        f"- command: `.venv/bin/python benchmarks/bench_shards.py --n {args.n} --image-size "
        f"{args.image_size}`",
        "",
        "| launch | wall s | covers/s | vs one process |",
        "| --- | ---: | ---: | ---: |",
        f"| one process (2 torch threads) | {one:.1f} | {n / one:.1f} | 1.00 |",
        f"| torchrun, 2 gloo ranks (2 threads each), merged by rank 0 | {two:.1f} | {n / two:.1f} "
        f"| {one / two:.2f} |",
        "",
        f"CSV rows: {rows}; the two CSVs are byte for byte identical: **{same}**.",
        "",
        f"With {os.cpu_count()} CPUs the two ranks share the cores that one process already uses "
        "with two threads, so no speed-up is expected here: sharding pays when each rank has its "
        "own cores, GPU or machine.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    if not same:
        sys.exit("the sharded CSV differs from the single-process CSV")


if __name__ == "__main__":
    main()
