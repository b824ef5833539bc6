"""Covers per second of `hiergenre predict` on 2,000 real covers, against the model alone, for the
torch and the ONNX Runtime backends.

Same lite0 run, same covers, same batch size, same run of this script, for each backend:
- model alone: the covers decoded beforehand; only normalisation + forward + node probabilities,
  on the same batches;
- predict: `tagging.tag_library` as the CLI calls it (decode in threads while the model runs,
  path decoding, CSV written).
Every pipeline runs one untimed warm-up batch first; then the four run interleaved, round by
round (`--round` covers each, the order rotating), so that the load of a shared machine, which
drifts over minutes, weighs on all of them alike.
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
from hiergenre.runtime import tune_malloc
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


def model_alone(predictor, pixels: np.ndarray, batch: int) -> float:
    """Seconds for normalisation + forward + node probabilities on covers decoded beforehand."""
    seconds, _ = timed(lambda: [predictor.probs_from_pixels(pixels[i : i + batch])
                                for i in range(0, len(pixels), batch)])  # fmt: skip
    return seconds


def predict(predictor, paths: list[Path], out: Path, batch: int, workers: int, options) -> float:
    """Seconds of `tag_library` over the cover files, as `hiergenre predict` runs it."""
    seconds, (summary, _) = timed(lambda: tag_library(
        predictor, [str(p) for p in paths], options, out, batch_size=batch,
        workers=workers))  # fmt: skip
    assert summary.skipped == 0, summary
    return seconds


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    import csv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch / ONNX Runtime threads")
    parser.add_argument("--workers", type=int, default=2, help="decode threads of predict")
    parser.add_argument("--round", type=int, default=256, help="covers per interleaved round")
    args = parser.parse_args()
    source = discogs_dir()
    if source is None:
        sys.exit("needs ../shared/data/discogs-covers (or HIERGENRE_SHARED): real covers only")
    torch.set_num_threads(args.threads)
    tune_malloc()  # as the CLI does at start
    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    n = link_covers(source, args.n, tmp / "covers")
    run_dir = train_lite0(tmp, args.image_size)
    options = DecodeOptions(top_k=3, decode="greedy")
    paths = sorted((tmp / "covers").glob("*/*.jpg"))
    predictors = {b: load_predictor(run_dir, device="cpu", backend=b) for b in ("torch", "onnx")}
    pixels = np.stack([predictors["torch"].load_pixels(p) for p in paths])
    for predictor in predictors.values():  # warm-up: one batch through each pipeline
        predictor.probs_from_pixels(pixels[: args.batch])
        predict(predictor, paths[: args.batch], tmp / "warm.csv", args.batch, args.workers,
                options)  # fmt: skip
    # Interleaved rounds (the order rotating each round) so that a load that drifts while the
    # script runs on a shared machine falls on every pipeline alike.
    results = {b: {"alone": 0.0, "predict": 0.0, "top": []} for b in predictors}
    steps = [(b, kind) for b in predictors for kind in ("alone", "predict")]
    loads = [load()]
    for k, start in enumerate(range(0, n, args.round)):
        chunk = slice(start, start + args.round)
        for backend, kind in steps[k % 4 :] + steps[: k % 4]:
            predictor = predictors[backend]
            if kind == "alone":
                results[backend]["alone"] += model_alone(predictor, pixels[chunk], args.batch)
                continue
            out = tmp / f"{backend}.csv"
            results[backend]["predict"] += predict(predictor, paths[chunk], out, args.batch,
                                                   args.workers, options)  # fmt: skip
            results[backend]["top"] += [r["top_path"] for r in csv.DictReader(out.open())]
        loads.append(load())
    for backend, predictor in predictors.items():
        results[backend]["probs"] = predictor.probs_from_pixels(pixels[: args.batch])
    rows = [(b, r["alone"], r["predict"]) for b, r in results.items()]
    diff = float(np.abs(results["torch"]["probs"] - results["onnx"]["probs"]).max())
    same = sum(a == b for a, b in zip(results["torch"]["top"], results["onnx"]["top"], strict=True))
    torch_alone = results["torch"]["alone"]
    lines = [
        "# predict throughput: tagging a folder of real covers vs the model alone",
        "",
        f"- covers: {n} real Discogs covers (300x300 JPEGs, 5 genre folders), linked into a folder",
        f"- model: lite0 (EfficientNet-Lite0, 445 outputs) at {args.image_size} px, batch "
        f"{args.batch}, {args.threads} torch / ONNX Runtime threads, CPU; decoder greedy, top-k 3; "
        f"predict decodes covers in {args.workers} threads while the model runs",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
        f"(shared with other jobs while measured), torch {torch.__version__}, onnxruntime "
        f"{__import__('onnxruntime').__version__}",
        f"- command: `.venv/bin/python benchmarks/bench_predict.py --n {args.n} --image-size "
        f"{args.image_size} --threads {args.threads} --workers {args.workers} --round "
        f"{args.round}`",
        f"- the four pipelines run interleaved in rounds of {args.round} covers (order rotating), "
        f"after one warm-up batch each; load average (1 min) after each round: "
        f"{', '.join(loads)}",
        f"- torch vs ONNX: max |node prob difference| {diff:.1e} on the first batch; same top "
        f"path for {same} of {n} covers",
        "",
        "| backend | model alone s | model alone covers/s | predict s | predict covers/s | "
        "predict / model alone | model alone vs torch's |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, alone, pred in rows:
        lines.append(
            f"| {backend} | {alone:.1f} | {n / alone:,.1f} | {pred:.1f} | {n / pred:,.1f} | "
            f"**{alone / pred:.2f}** | {torch_alone / alone:.2f} |"
        )
    lines += [
        "",
        "`predict / model alone` is the share of the model's own speed that tagging a library "
        "keeps once JPEG decoding, path decoding and the CSV are included (goal >= 0.9 for torch); "
        "`model alone vs torch's` is the backend's forward speed relative to torch's.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
