"""Covers per second of `hiergenre predict` on 2,000 real covers, against the model alone.

Same lite0 run, same covers, same batch size, same run of this script:
- model alone: the covers decoded beforehand; only normalisation + forward + node probabilities;
- serial: decode a batch, then run the model, then decode paths (no overlap);
- predict: `tagging.tag_library` as the CLI calls it (folder walk, decode in a thread pool while the
  model runs, path decoding, CSV written).
The lite0 run is trained here for one epoch on 64 synthetic covers (throughput does not depend on
what it learned). The covers are ../shared/data/discogs-covers (real 300x300 JPEGs), linked (not
copied) into a temporary folder. Writes benchmarks/results/predict.md.

    .venv/bin/python benchmarks/bench_predict.py [--n 2000] [--image-size 224] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hiergenre.data import generate_synthetic
from hiergenre.predictor import DecodeOptions, load_predictor
from hiergenre.tagging import tag_library
from hiergenre.taxonomy import load_taxonomy

RESULTS = Path(__file__).resolve().parent / "results" / "predict.md"


def discogs_dir() -> Path | None:
    """../shared/data/discogs-covers beside the repo, or under $HIERGENRE_SHARED."""
    env = os.environ.get("HIERGENRE_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    for candidate in (base / "data" / "discogs-covers", base / "discogs-covers"):
        if candidate.is_dir():
            return candidate
    return None


def link_covers(source: Path, n: int, folder: Path) -> int:
    """Symlink the first n covers (sorted, across genre folders) into folder/GENRE/."""
    covers = sorted(source.glob("*/*.jpg"))[:n]
    for cover in covers:
        (folder / cover.parent.name).mkdir(parents=True, exist_ok=True)
        (folder / cover.parent.name / cover.name).symlink_to(cover)
    return len(covers)


def train_lite0(tmp: Path, size: int) -> Path:
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    os.environ["HIERGENRE_CACHE"] = str(tmp / "cache")
    generate_synthetic(tmp / "synth", n=64, size=size, seed=0, taxonomy=load_taxonomy(), workers=1)
    data = DataSpec(path=str(tmp / "synth"), image_size=size, num_workers=0)
    config = TrainConfig(model=ModelSpec("lite0", "all"), data=data, epochs=1, device="cpu")
    train_from_config(config, tmp / "run")
    return tmp / "run"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def model_alone(predictor, paths: list[Path], batch: int) -> float:
    """Seconds for normalisation + forward + node probabilities on covers decoded beforehand."""
    pixels = np.stack([predictor.load_pixels(p) for p in paths])
    predictor.probs_from_pixels(pixels[:batch])  # warm-up
    seconds, _ = timed(lambda: [predictor.probs_from_pixels(pixels[i : i + batch])
                                for i in range(0, len(pixels), batch)])  # fmt: skip
    return seconds


def serial(predictor, paths: list[Path], batch: int, options: DecodeOptions) -> float:
    """Seconds for decode, then model, then paths, batch after batch, in one thread."""

    def run():
        for i in range(0, len(paths), batch):
            pixels = np.stack([predictor.load_pixels(p) for p in paths[i : i + batch]])
            predictor.paths_from_probs(predictor.probs_from_pixels(pixels), options)

    return timed(run)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--workers", type=int, default=2, help="decode threads of predict")
    args = parser.parse_args()
    source = discogs_dir()
    if source is None:
        sys.exit("needs ../shared/data/discogs-covers (or HIERGENRE_SHARED): real covers only")
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    n = link_covers(source, args.n, tmp / "covers")
    predictor = load_predictor(train_lite0(tmp, args.image_size), device="cpu")
    paths = sorted((tmp / "covers").glob("*/*.jpg"))
    options = DecodeOptions(top_k=3, decode="greedy")
    loads = [f"{os.getloadavg()[0]:.1f}"]
    alone = model_alone(predictor, paths, args.batch)
    loads.append(f"{os.getloadavg()[0]:.1f}")
    one_thread = serial(predictor, paths, args.batch, options)
    loads.append(f"{os.getloadavg()[0]:.1f}")
    predict_s, (summary, _) = timed(lambda: tag_library(
        predictor, [tmp / "covers"], options, tmp / "tags.csv", batch_size=args.batch,
        workers=args.workers))  # fmt: skip
    assert summary.ok == n, summary
    rate = {k: n / s for k, s in (("alone", alone), ("serial", one_thread), ("predict", predict_s))}
    lines = [
        "# predict throughput: tagging a folder of real covers vs the model alone",
        "",
        f"- covers: {n} real Discogs covers (300x300 JPEGs, 5 genre folders), linked into a folder",
        f"- model: lite0 (EfficientNet-Lite0, 445 outputs) at {args.image_size} px, batch "
        f"{args.batch}, torch threads {args.threads}, CPU; decoder greedy, top-k 3",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
        "(shared with other jobs while measured), torch " + torch.__version__,
        f"- load average (1 min) before each pipeline: {', '.join(loads)}",
        f"- command: `.venv/bin/python benchmarks/bench_predict.py --n {args.n} --image-size "
        f"{args.image_size} --threads {args.threads} --workers {args.workers}`",
        "",
        "| pipeline | seconds | covers/s | vs model alone |",
        "| --- | ---: | ---: | ---: |",
        f"| model alone (covers decoded beforehand) | {alone:.1f} | {rate['alone']:,.1f} | 1.00 |",
        f"| serial: decode, then model, then paths | {one_thread:.1f} | {rate['serial']:,.1f} | "
        f"{rate['serial'] / rate['alone']:.2f} |",
        f"| `hiergenre predict` pipeline ({args.workers} decode threads, CSV out) | "
        f"{predict_s:.1f} | {rate['predict']:,.1f} | **{rate['predict'] / rate['alone']:.2f}** |",
        "",
        "The ratio is the share of the model's own speed that tagging a library keeps once JPEG "
        "decoding, path decoding and the CSV are included; 1.00 would mean decoding is fully "
        "hidden behind the forward pass.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
