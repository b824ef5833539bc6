"""`hiergenre benchmark --folds K`: every model on K folds, reported as mean +- sd per metric.

Each fold is an ordinary benchmark run in `<out>/fold-<i>/` on that fold's split (its own
`split.json`, `runs/`, results files); the folds come from `folds.make_folds` (stratified,
group-aware when the dataset names groups). Frozen encoders' features are computed once for
every cover (`hiergenre.featcache`) and reused by every fold and every head on that encoder.
The top-level results hold, per model, the mean and the standard deviation over folds of every
metric, and each fold's values.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from hiergenre.benchmark import report
from hiergenre.benchmark.config import BenchmarkConfig
from hiergenre.benchmark.folds import make_folds
from hiergenre.benchmark.run import run_split
from hiergenre.data import resolve_dataset
from hiergenre.taxonomy import load_taxonomy

log = logging.getLogger(__name__)


def run_folds(config: BenchmarkConfig, progress=None) -> dict:
    """Run the benchmark on each of `config.folds` folds and aggregate (see module doc)."""
    out = Path(config.out)
    taxonomy = load_taxonomy()
    dataset = resolve_dataset(config.data, taxonomy)
    folds = make_folds(dataset, taxonomy, config.folds, config.seed)
    payloads = []
    for i, split in enumerate(folds, 1):
        fold_out = out / f"fold-{i}"
        if progress is not None:
            progress("fold", {"fold": i, "folds": len(folds)})
        sub = dataclasses.replace(config, out=str(fold_out), folds=None, plots=False)
        payloads.append(run_split(sub, progress, split))  # saved as fold-<i>/split.json
    payload = aggregate(payloads, folds[0].group_aware)
    payload["config"]["folds"] = config.folds
    payload["config"]["out"] = str(out)
    report.write_results(payload, out, plots=config.plots)  # from the folds' mean numbers
    return payload


def _mean_sd(values: list) -> tuple[float | None, float | None]:
    finite = [float(v) for v in values if isinstance(v, (int, float)) and np.isfinite(v)]
    if len(finite) < len(values) or not finite:
        return None, None
    return float(np.mean(finite)), float(np.std(finite))


def _mean_curve(curves: list) -> dict | None:
    """The folds' precision-versus-depth curves averaged point by point (same thresholds)."""
    if any(not c for c in curves):
        return None
    out = {"threshold": curves[0]["threshold"]}
    for key in ("named", "precision"):
        values = np.array([[np.nan if v is None else v for v in c[key]] for c in curves], float)
        finite = np.isfinite(values)
        total, count = np.where(finite, values, 0.0).sum(axis=0), finite.sum(axis=0)
        out[key] = [float(t / c) if c else None for t, c in zip(total, count, strict=True)]
    return out


def aggregate(payloads: list[dict], group_aware: bool) -> dict:
    """One results dict from per-fold ones: each model's metrics as the mean over folds, with
    `metrics_sd` (population sd) and `per_fold` (each fold's metrics)."""
    first = payloads[0]
    rows = []
    for j, row in enumerate(first["models"]):
        folds = [p["models"][j] for p in payloads]
        metrics, sd = {}, {}
        for key, value in row["metrics"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[key], sd[key] = _mean_sd([f["metrics"].get(key) for f in folds])
            elif key == "depth_curve" and isinstance(value, dict):
                metrics[key] = _mean_curve([f["metrics"].get(key) for f in folds])
        agg = {k: v for k, v in row.items() if k not in ("metrics", "test_rows", "run_dir")}
        agg.update(metrics=metrics, metrics_sd=sd, per_fold=[f["metrics"] for f in folds],
                   train_seconds=float(sum(f["train_seconds"] for f in folds)),
                   images_per_s=float(np.median([f["images_per_s"] for f in folds])),
                   wall_seconds=float(sum(f.get("wall_seconds", 0.0) for f in folds)))  # fmt: skip
        rows.append(agg)
    setting = dict(first["setting"])
    setting.update(folds=len(payloads), group_aware=group_aware,
                   split=f"{len(payloads)} folds (fold-<i>/split.json)",
                   test_albums=sum(p["setting"]["test_albums"] for p in payloads),
                   test_single_label_albums=sum(p["setting"]["test_single_label_albums"]
                                                for p in payloads))  # fmt: skip
    return {**first, "setting": setting, "models": rows}
