"""CLI start-up: wall time and peak memory of `hiergenre --help`, `--version` and every taxonomy
command, as ratios against importing typer, rich, networkx, numpy and pandas in the same run.

Each command runs in a fresh interpreter (`python -m hiergenre.cli.main ...`, the package of this
checkout, or of `--tree DIR` to measure another checkout without writing results);
the runs of all commands are interleaved, repeated --reps times, and the median is reported. Peak
memory is the child's max RSS from os.wait4. Goal: every command within 1.5x the baseline's time and
under 150 MiB. Writes benchmarks/results/startup.md and startup.json.

    .venv/bin/python benchmarks/bench_startup.py [--reps 7] [--tree DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BASELINE = ["-c", "import typer, rich, networkx, numpy, pandas"]
TIME_GOAL, RSS_GOAL_MIB = 1.5, 150.0
TINY_LABELS = (
    "amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres\n"
    'A1,m,t1,r1,a,"Rock,Hard Rock"\nA1,m,t2,r2,a,"Rock,Hard Rock"\nA2,m,t3,r3,a,Rock\n'
    'A3,m,t4,r4,a,"Jazz,Bebop"\n'
)


def commands(tmp: Path) -> dict[str, list[str]]:
    """name -> interpreter arguments; the baseline first."""
    labels = tmp / "labels.csv"
    labels.write_text(TINY_LABELS)
    cli = ["-m", "hiergenre.cli.main"]
    return {
        "baseline: import typer, rich, networkx, numpy, pandas": BASELINE,
        "hiergenre --help": [*cli, "--help"],
        "hiergenre --version": [*cli, "--version"],
        "hiergenre explain-taxonomy Rock": [*cli, "explain-taxonomy", "Rock"],
        "hiergenre taxonomy stats": [*cli, "taxonomy", "stats"],
        "hiergenre taxonomy export --format json": [
            *cli, "taxonomy", "export", "--format", "json", "--out", str(tmp / "tax.json"),
        ],
        "hiergenre taxonomy build --from-labels": [
            *cli, "taxonomy", "build", "--from-labels", str(labels), "--out", str(tmp / "g.tsv"),
        ],
    }  # fmt: skip


def measure(args: list[str], env: dict[str, str], tree: Path) -> tuple[float, float]:
    """(seconds, max RSS in MiB) of one fresh interpreter running `args` in `tree`; NaN when the
    command fails there (an older checkout without `--version`)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        return math.nan, math.nan
    return seconds, usage.ru_maxrss / 1024  # Linux: KiB


def run(reps: int, tree: Path) -> dict:
    """Interleaved repetitions of every command; medians and ratios to the baseline."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "120"}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(Path(tmp))
        for args in cmds.values():  # warm the file cache and __pycache__ once
            measure(args, env, tree)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for _ in range(reps):
            for name, args in cmds.items():
                samples[name].append(measure(args, env, tree))
    base_name = next(iter(cmds))
    base_s = statistics.median(s for s, _ in samples[base_name])
    rows = []
    for name, got in samples.items():
        seconds = statistics.median(s for s, _ in got)
        rss = statistics.median(m for _, m in got)
        ratio = seconds / base_s
        ok = name == base_name or bool(ratio <= TIME_GOAL and rss < RSS_GOAL_MIB)
        rows.append({"command": name, "seconds": round(seconds, 3), "ratio": round(ratio, 2),
                     "max_rss_mib": round(rss, 1), "ok": ok})  # fmt: skip
    return {
        "reps": reps,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "goal": f"time <= {TIME_GOAL}x baseline, max RSS < {RSS_GOAL_MIB:.0f} MiB",
        "rows": rows,
    }


def write(result: dict) -> None:
    lines = [
        "# CLI start-up: time and memory against importing the CLI's own libraries",
        "",
        f"- each command in a fresh interpreter, {result['reps']} interleaved repetitions, median;"
        " max RSS from os.wait4",
        f"- goal: {result['goal']}",
        f"- machine: {result['machine']} (shared with other jobs while measured), "
        f"Python {result['python']}",
        f"- command: `.venv/bin/python benchmarks/bench_startup.py --reps {result['reps']}`",
        "",
        "| command | median s | x baseline | max RSS MiB | goal met |",
        "| --- | ---: | ---: | ---: | :---: |",
    ]
    for r in result["rows"]:
        mark = "yes" if r["ok"] else "NO"
        lines.append(f"| `{r['command']}` | {r['seconds']:.2f} | {r['ratio']:.2f} | "
                     f"{r['max_rss_mib']:.0f} | {mark} |")  # fmt: skip
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to measure")
    args = parser.parse_args()
    result = run(args.reps, args.tree.resolve())
    if args.tree.resolve() != ROOT:
        print(json.dumps(result, indent=1))
        return
    write(result)
    print((RESULTS / "startup.md").read_text())


if __name__ == "__main__":
    main()
