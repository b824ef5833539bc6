"""Peak memory and seconds of the style and hierarchical probes as the number of covers grows.

Random features stand in for lite0's pooled + style vector (21,232 numbers per cover, stored as
float16 in a memory-mapped .npy file, as `HIERGENRE_FEATURE_PRECISION=float16` caches them); the
targets are random label sets over MuMu's 445-node taxonomy (a node drawn with Zipf-like
popularity, closed under its ancestors). Each (probe, covers) pair runs in a fresh process that
memory-maps the file, so its peak RSS (`ru_maxrss`) is that fit's alone, the mapped pages it
touched included. The probes are `hiergenre.train.probe.fit_probe` exactly as training calls it:
- style: a sigmoid per node (445 columns, one group), the style row's probe;
- hierarchical: a softmax per branch (about 100 groups), hierarchical-lite0's probe.
Scaling is about memory and time per solver step, so the L-BFGS iterations are bounded
(`--iters`, recorded) and one L2 strength is fitted without the refit; `passes` counts the
solver's passes over the features. Growth exponents are least-squares slopes of log(value) on
log(covers). Writes benchmarks/results/probe_scale.md.

    .venv/bin/python benchmarks/bench_probe_scale.py [--sizes 5000,10000,20000,31000] [--iters 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "probe_scale.md"
DIM = 21_232  # lite0's pooled + style features (every stage at 96 channels)
TRAIN_SHARE = 0.8


def make_features(path: Path, n: int, dim: int = DIM, seed: int = 0) -> None:
    """n x dim float16 features, written chunk by chunk into a .npy file (never held whole)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, dim))
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.2, 2.0, dim).astype(np.float32)  # columns of unequal spread
    for i in range(0, n, 1000):
        block = np.abs(rng.standard_normal((min(1000, n - i), dim), dtype=np.float32)) * scale
        out[i : i + len(block)] = block / np.sqrt(dim)  # unit-norm-ish rows, as the encoder's
    out.flush()
    del out


def make_targets(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(multi-hot (n, 445) over MuMu's nodes closed under ancestors, each node's parent column)."""
    from hiergenre.taxonomy import load_taxonomy

    tax = load_taxonomy()
    names = list(tax.names)
    pos = {name: i for i, name in enumerate(names)}
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, len(names) + 1)
    popularity = rng.permutation(popularity / popularity.sum())
    y = np.zeros((n, len(names)), np.float32)
    for i, node in enumerate(rng.choice(len(names), size=n, p=popularity)):
        y[i, [pos[a] for a in tax.path(names[node])]] = 1.0
    parents = np.array([pos.get(tax.parent(name), -1) for name in names])
    return y, parents


def child(args) -> None:
    """One fit in this process; prints a JSON line with its seconds, passes and peak RSS."""
    import torch

    from hiergenre.runtime import tune_malloc
    from hiergenre.train import probe

    tune_malloc()
    torch.set_num_threads(args.threads)
    feats = np.load(args.features, mmap_mode="r")[: args.n]
    y, parents = make_targets(args.n)
    cut = int(TRAIN_SHARE * args.n)
    groups = (probe.flat_groups(y.shape[1], "sigmoid") if args.probe == "style"
              else probe.branch_groups(parents, "softmax"))  # fmt: skip
    passes = [0]
    real = probe.Rows.chunks

    def counted(self):
        passes[0] += 1
        return real(self)

    probe.Rows.chunks = counted
    config = probe.ProbeConfig(l2_grid=(0.1,), max_iter=args.iters, refit=False, device="cpu")
    start = time.perf_counter()
    fit = probe.fit_probe({"train": feats[:cut], "dev": feats[cut:]},
                          {"train": y[:cut], "dev": y[cut:]}, groups, config)  # fmt: skip
    seconds = time.perf_counter() - start
    assert np.isfinite(fit.weight).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    streamed = args.n >= 0.8 * feats.shape[1]
    # L-BFGS keeps 20 (s, y) pairs of the largest group's parameters; a bounded run stores fewer
    params = max(len(g.columns) for g in groups) * (feats.shape[1] + 1)
    history = 2 * max(0, 20 - args.iters) * params * 4
    print(json.dumps({"probe": args.probe, "n": args.n, "seconds": seconds, "peak": peak,
                      "full_history": peak + history,
                      "passes": passes[0], "groups": len(groups),
                      "path": "streamed" if streamed else "span"}))  # fmt: skip


def slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,31000")
    parser.add_argument("--probes", default="style,hierarchical")
    parser.add_argument("--iters", type=int, default=5, help="L-BFGS iterations per fit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dim", type=int, default=DIM, help="features per cover")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--features", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-probe-scale-"))
    features = tmp / "features.npy"
    start = time.perf_counter()
    make_features(features, max(sizes), args.dim)
    made = time.perf_counter() - start
    rows = []
    for n in sizes:  # the largest first when --sizes lists it first
        for name in args.probes.split(","):
            cmd = [sys.executable, __file__, "--child", "--n", str(n), "--probe", name,
                   "--features", str(features), "--iters", str(args.iters),
                   "--threads", str(args.threads)]  # fmt: skip
            load = os.getloadavg()[0]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["load"] = load
            rows.append(row)
            print(row, flush=True)
            report(args, made, rows)  # after every fit: a stopped run keeps what it measured
    features.unlink()
    print(RESULTS.read_text())


def report(args, made: float, rows: list[dict]) -> None:
    """Write results/probe_scale.md from the fits so far."""
    lines = [
        "# Probe scaling: peak memory and seconds vs covers (random features)",
        "",
        f"- features: {args.dim:,} per cover, float16, memory-mapped (written in {made:.0f} s); "
        f"targets: random label sets over MuMu's 445 nodes (closed under ancestors); "
        f"{TRAIN_SHARE:.0%} train, the rest dev",
        f"- solver: L-BFGS bounded to {args.iters} iterations per fit, one L2 strength (0.1), no "
        f"refit, {args.threads} torch threads, CPU; each fit in a fresh process",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared "
        "with other jobs while measured)",
        f"- command: `.venv/bin/python benchmarks/bench_probe_scale.py --sizes {args.sizes} "
        f"--iters {args.iters}" + (f" --dim {args.dim}" if args.dim != DIM else "") + "`",
        "",
        "| probe | covers | path | groups | passes over features | seconds | s / pass | "
        "peak RSS GB | + full L-BFGS history GB | load avg |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        per = f"{r['seconds'] / r['passes']:.1f}" if r["passes"] else "-"
        lines.append(
            f"| {r['probe']} | {r['n']:,} | {r['path']} | {r['groups']} | {r['passes']} "
            f"| {r['seconds']:.1f} | {per} | {r['peak'] / 1e9:.2f} | "
            f"{r['full_history'] / 1e9:.2f} | {r['load']:.1f} |"
        )
    lines += ["", "| probe | growth exponent of peak RSS | of seconds | peak at the largest |",
              "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for name in args.probes.split(","):
        mine = sorted((r for r in rows if r["probe"] == name), key=lambda r: r["n"])
        if len(mine) < 2:
            continue
        ns = [r["n"] for r in mine]
        lines.append(
            f"| {name} | {slope(ns, [r['peak'] for r in mine]):.2f} | "
            f"{slope(ns, [r['seconds'] for r in mine]):.2f} | "
            f"{mine[-1]['peak'] / 1e9:.2f} GB at {ns[-1]:,} ("
            f"{mine[-1]['full_history'] / 1e9:.2f} with a full history; goal < 8 GB) |"
        )
    lines += [
        "",
        "`span`: fewer albums than 0.8 x features, so the probe fits in the coordinates of the "
        "albums' span (built once from standardised float32 rows, then n x n); `streamed`: every "
        "solver pass reads the float16 features in chunks and standardises them on the fly. "
        "`+ full L-BFGS history`: the peak plus the (s, y) pairs a bounded run did not store "
        "(history 20, of the largest group's weights), what an unbounded fit adds at most.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
