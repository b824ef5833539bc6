"""The end of a run: best weights back in, final dev and test metrics, `summary.json`."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hiergenre.evaluate import PRIMARY
from hiergenre.fileio import atomic_write_text, json_safe
from hiergenre.models.base import unwrap
from hiergenre.train.checkpoint import load_checkpoint, save_checkpoint
from hiergenre.train.distributed import barrier
from hiergenre.train.evaluation import final_part, tune_thresholds
from hiergenre.train.headfit import held_out_head

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What a run ended with. status: completed | early_stopped | interrupted | diverged."""

    run_dir: Path
    status: str
    epochs_run: int
    best_epoch: int
    metric: str
    best_metric: float
    dev: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""
    # what `test` was computed from, for a caller that reports more than the metrics (the
    # benchmark): node probabilities (M, num_nodes) and the dataset rows (M,) of the test
    # covers; None when the run was not scored on covers. Not in summary.json.
    test_node_probs: np.ndarray | None = field(default=None, repr=False, compare=False)
    test_rows: np.ndarray | None = field(default=None, repr=False, compare=False)


def _mean_speed(run_dir) -> float | None:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    speeds = [ln["images_per_s"] for ln in lines if ln.get("images_per_s") is not None]
    return sum(speeds) / len(speeds) if speeds else None


def _dev_head(r):
    """The head to score dev with: a refitted probe's train-only fit (train/headfit.py)."""

    if r.probe_fit is None:
        return contextlib.nullcontext()
    return held_out_head(unwrap(r.model), r.probe_fit)


def _choose_thresholds(r, ckpt, batch_size: int) -> None:
    """The decode's stop thresholds per level, chosen on dev with the best weights (a refitted
    probe: its train-only fit), set on the model and stored in the `best` checkpoint's metadata,
    where `load_run` (evaluate, predict, the benchmark) reads them."""
    with _dev_head(r):
        thresholds = tune_thresholds(r.model, r.data, "dev", r.ctx, r.device, batch_size)
    unwrap(r.model).decode_thresholds = thresholds
    if thresholds is not None and r.ctx.is_main:
        meta = {k: v for k, v in ckpt.meta.items() if k not in ("format", "meta_sha256")}
        save_checkpoint(r.run_dir / "best", unwrap(r.model).state_dict(),
                        {**meta, "decode_thresholds": thresholds}, with_rng=False)  # fmt: skip
    r.meta["decode_thresholds"] = thresholds


def write_summary(r, state, status: str, message: str, seconds: float, progress=None):
    """Evaluate the best checkpoint on dev and test (unless interrupted) and write summary.json."""
    dev: dict = {}
    test: dict = {}
    test_nodes = test_rows = None
    best = r.run_dir / "best.safetensors"
    barrier(r.ctx)  # rank 0 may still be writing `best`
    if status != "interrupted" and best.exists():
        ckpt = load_checkpoint(best, taxonomy_digest=r.meta["taxonomy_digest"],
                               label_space=r.meta["label_space"])  # fmt: skip
        unwrap(r.model).load_state_dict(ckpt.model_state)
        size = r.config.batch_size
        _choose_thresholds(r, ckpt, size)
        with _dev_head(r):
            dev, _, _ = final_part(r.model, r.data, "dev", r.ctx, r.device, size)
        test, test_nodes, test_rows = final_part(r.model, r.data, "test", r.ctx, r.device, size)
    model = unwrap(r.model)
    metric = PRIMARY[model.output]
    summary = {
        "status": status, "message": message, "epochs_run": state.epoch,
        "best_epoch": state.best_epoch, "metric": metric, "best_metric": state.best_metric,
        "dev": dev, "test": test, "seconds": seconds, "images_per_s": _mean_speed(r.run_dir),
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "model_name": r.meta["model_name"], "output": model.output,
        "label_space": model.label_space.name, "num_labels": model.label_space.size,
        "pretrained": getattr(model, "pretrained", None), "notice": getattr(model, "notice", None),
        "frozen_encoder_fast_path": r.model is not model, "device": str(r.device),
        "solver": r.meta.get("solver", "gradient"), "head_fit": r.meta.get("head_fit"),
        "decode_thresholds": r.meta.get("decode_thresholds"),
        "world_size": r.ctx.world_size,
        "sizes": {part: len(ds) for part, ds in r.data.datasets.items()},
    }  # fmt: skip
    if r.ctx.is_main:  # summary.json marks a finished run: never half written
        text = json.dumps(json_safe(summary), indent=1, allow_nan=False)
        atomic_write_text(r.run_dir / "summary.json", text + "\n")
    if progress is not None and r.ctx.is_main:
        progress("end", summary)
    return RunResult(r.run_dir, status, state.epoch, state.best_epoch, metric, state.best_metric,
                     dev, test, seconds, message, test_nodes, test_rows)  # fmt: skip
