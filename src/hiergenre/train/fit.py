"""fit(): the run directory, the epoch loop, early stopping, checkpoints, resume, NaN stop, Ctrl-C.

A run directory holds `config.json`, `split.json`, `taxonomy.tsv`, `metrics.jsonl` (one line per
epoch), `best.*` and `last.*` checkpoints and `summary.json`. `last` is written after every
epoch with the optimizer, schedule and RNG states, and `--resume` restarts from it so that the
final metrics equal an uninterrupted run's (CPU, same seed).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from hiergenre.device import resolve_device
from hiergenre.evaluate import PRIMARY
from hiergenre.featcache import encoder_is_frozen
from hiergenre.fileio import atomic_append_line, atomic_write_text
from hiergenre.models.base import HeadOnly, unwrap
from hiergenre.train import build
from hiergenre.train.checkpoint import load_checkpoint, save_checkpoint
from hiergenre.train.config import TrainConfig, config_to_dict, with_image_size
from hiergenre.train.distributed import (
    DistContext,
    EpochSampler,
    broadcast_flag,
    init_distributed,
)
from hiergenre.train.evaluation import evaluate_part
from hiergenre.train.features import feature_data, fit_reduction
from hiergenre.train.headfit import fit_head, held_out_head, uses_probe
from hiergenre.train.inputs import TrainData, image_data, sample_weights
from hiergenre.train.loop import train_one_epoch
from hiergenre.train.probe import ProbeConfig
from hiergenre.train.record import make_record
from hiergenre.train.summary import RunResult, write_summary

log = logging.getLogger(__name__)
Progress = Any  # Callable[[str, dict], None] | None


@dataclass
class RunState:
    """Where training stands; saved in every `last` checkpoint."""

    epoch: int = 0
    best_metric: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0


@dataclass
class Runner:
    """The assembled objects of one run (internal to fit)."""

    model: torch.nn.Module  # what is trained: the GenreModel, or its head on cached features
    train_model: torch.nn.Module  # the same, wrapped by DDP / torch.compile when asked
    data: TrainData
    config: TrainConfig
    run_dir: Path
    ctx: DistContext
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: Any
    criterion: Any
    sampler: EpochSampler
    loader: DataLoader
    meta: dict
    probe_fit: Any = None  # a probe head's ProbeFit: the summary scores dev with its held-out fit


def _emit(progress: Progress, ctx: DistContext, event: str, info: dict) -> None:
    if progress is not None and ctx.is_main:
        progress(event, info)


def _num_workers(config: TrainConfig, device: torch.device) -> int:
    if config.data.num_workers >= 0:
        return config.data.num_workers
    return 4 if device.type == "cuda" else 0


def make_runner(
    model, data: TrainData, config: TrainConfig, run_dir: Path, ctx: DistContext,
    device: torch.device, meta: dict,
) -> Runner:  # fmt: skip
    """Optimizer, schedule, loss, sampler and loader for a model already on `device`."""
    output, size = model.output, model.label_space.size
    weights = None
    if build.resolved_balance(config, output) == "sampler":
        weights = sample_weights(output, data.targets["train"], size)
    sampler = EpochSampler(
        len(data.datasets["train"]), config.batch_size, config.seed, ctx, weights
    )
    cuda = device.type == "cuda"
    loader = DataLoader(
        data.datasets["train"], batch_size=config.batch_size // ctx.world_size, sampler=sampler,
        num_workers=_num_workers(config, device), pin_memory=cuda,
    )  # fmt: skip
    optimizer = build.build_optimizer(build.param_groups(model, config.optim), config.optim)
    scheduler = build.build_scheduler(optimizer, config.optim, config.epochs)
    criterion = build.build_criterion(model, config, data.targets["train"], device)
    train_model = model
    if ctx.enabled:
        ids = [device.index] if cuda else None
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if config.compile:
        train_model = torch.compile(train_model)
    return Runner(model, train_model, data, config, run_dir, ctx, device, optimizer, scheduler,
                  criterion, sampler, loader, meta)  # fmt: skip


def _checkpoint_meta(r: Runner, state: RunState, extra: dict | None = None) -> dict:
    return {
        **r.meta,
        "config": config_to_dict(r.config),
        "epoch": state.epoch,
        "state": vars(state).copy(),
        "scheduler": r.scheduler.state_dict(),
        **(extra or {}),
    }


def _state_dict(r: Runner) -> dict[str, torch.Tensor]:
    return unwrap(r.model).state_dict()  # a HeadOnly saves the whole model


def save_last(r: Runner, state: RunState) -> None:
    """Write `last` with optimizer, schedule and RNG states (rank 0)."""
    if r.ctx.is_main:
        save_checkpoint(r.run_dir / "last", _state_dict(r), _checkpoint_meta(r, state),
                        r.optimizer.state_dict())  # fmt: skip


def restore_last(r: Runner) -> RunState:
    """Load `last` into the runner; returns the saved RunState (RNG restored by the caller)."""
    meta = r.meta
    ckpt = load_checkpoint(
        r.run_dir / "last",
        taxonomy_digest=meta["taxonomy_digest"],
        label_space=meta["label_space"],
        model_name=meta["model_name"],
    )
    unwrap(r.model).load_state_dict(ckpt.model_state)
    r.optimizer.load_state_dict(ckpt.optimizer_state())
    r.scheduler.load_state_dict(ckpt.meta["scheduler"])
    state = RunState(**ckpt.meta["state"])
    _truncate_metrics(r.run_dir / "metrics.jsonl", state.epoch)
    r.restore_rng = ckpt.restore_rng  # type: ignore[attr-defined]
    return state


def _truncate_metrics(path: Path, epoch: int) -> None:
    if path.is_file():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if _epoch_of(ln) <= epoch]
        path.write_text("".join(ln + "\n" for ln in kept))


def _epoch_of(line: str) -> float:
    """The epoch of a metrics line; a line torn by a crash counts as after every epoch."""
    try:
        return json.loads(line)["epoch"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf


def _start_run_dir(run_dir: Path, config: TrainConfig, taxonomy) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(config_to_dict(config), indent=1) + "\n")
    taxonomy.save(run_dir / "taxonomy.tsv")
    atomic_write_text(run_dir / "metrics.jsonl", "")


def run_epoch(r: Runner, state: RunState, epoch: int, progress: Progress) -> dict | None:
    """Train one epoch and evaluate on dev; None when the loss went non-finite."""
    cfg = r.config
    r.sampler.set_epoch(epoch)
    amp = torch.bfloat16 if cfg.amp and r.device.type == "cuda" else None

    def on_step(step: int, steps: int, loss: float) -> None:
        _emit(progress, r.ctx, "step", {"epoch": epoch, "step": step, "steps": steps, "loss": loss})

    stats = train_one_epoch(
        r.train_model, r.criterion, r.optimizer, r.loader, r.device, amp_dtype=amp,
        channels_last=r.device.type == "cuda", log_every=cfg.log_every, on_step=on_step,
    )  # fmt: skip
    if broadcast_flag(r.ctx, not stats.finite):
        return None
    lr = r.optimizer.param_groups[0]["lr"]
    r.scheduler.step()
    dev = evaluate_part(r.model, r.data, "dev", r.ctx, r.device, cfg.batch_size)
    return {
        "epoch": epoch, "train_loss": stats.loss, "lr": lr, "dev": dev,
        "images_per_s": stats.images * r.ctx.world_size / max(stats.seconds, 1e-9),
        "seconds": stats.seconds,
    }  # fmt: skip


def _improved(metric: float, best: float) -> bool:
    return not math.isnan(metric) and metric > best + 1e-12


def train_epochs(r: Runner, state: RunState, progress: Progress) -> tuple[str, str]:
    """The epoch loop; returns (status, message)."""
    primary = PRIMARY[r.model.output]
    for epoch in range(state.epoch + 1, r.config.epochs + 1):
        line = run_epoch(r, state, epoch, progress)
        if line is None:
            return "diverged", (
                f"the training loss became non-finite in epoch {epoch}: lower `lr`; the last "
                f"good checkpoint (epoch {state.epoch}) is kept in {r.run_dir}"
            )
        metric = line["dev"].get(primary, float("nan"))
        state.epoch = epoch
        if _improved(metric, state.best_metric):
            state.best_metric, state.best_epoch, state.bad_epochs = metric, epoch, 0
            if r.ctx.is_main:
                save_checkpoint(r.run_dir / "best", _state_dict(r), _checkpoint_meta(r, state),
                                with_rng=False)  # fmt: skip
        else:
            state.bad_epochs += 1
        line["best_epoch"] = state.best_epoch
        if r.ctx.is_main:
            atomic_append_line(r.run_dir / "metrics.jsonl", json.dumps(line))
        save_last(r, state)
        _emit(progress, r.ctx, "epoch", {**line, "metric": primary, "best": state.best_metric})
        if r.config.patience and state.bad_epochs >= r.config.patience:
            return "early_stopped", f"no better dev {primary} for {r.config.patience} epochs"
    return "completed", ""


def probe_epoch(r: Runner, state: RunState, progress: Progress) -> tuple[str, str]:
    """The head fitted as a linear probe (train/headfit.py): one "epoch", saved as `best`."""

    start = time.perf_counter()
    balanced = build.resolved_balance(r.config, r.model.output) == "class-balanced"
    probe = ProbeConfig(r.config.l2_grid, r.config.probe_iters, class_balanced=balanced)
    fit = fit_head(r.model, r.data, probe, lambda event, info: _emit(progress, r.ctx, event, info))
    r.meta["head_fit"] = fit.record()
    r.probe_fit = fit
    with held_out_head(r.model, fit):  # dev albums were refitted on: score the train-only fit
        dev = evaluate_part(r.model, r.data, "dev", r.ctx, r.device, r.config.batch_size)
    state.epoch = state.best_epoch = 1
    state.best_metric = dev.get(PRIMARY[r.model.output], float("nan"))
    seconds = time.perf_counter() - start
    line = {"epoch": 1, "train_loss": None, "lr": None, "dev": dev, "seconds": seconds,
            "images_per_s": None, "best_epoch": 1, "head_fit": r.meta["head_fit"]}  # fmt: skip
    if r.ctx.is_main:
        save_checkpoint(r.run_dir / "best", _state_dict(r), _checkpoint_meta(r, state),
                        with_rng=False)  # fmt: skip
        atomic_append_line(r.run_dir / "metrics.jsonl", json.dumps(line))
    save_last(r, state)
    metric = PRIMARY[r.model.output]
    _emit(progress, r.ctx, "epoch", {**line, "metric": metric, "best": state.best_metric})
    return "completed", f"linear probe (L-BFGS), L2 {fit.record()['chosen_l2']} chosen on dev"


def fit_data(
    model, data: TrainData, config: TrainConfig, run_dir: str | Path, progress: Progress = None,
    *, resume: bool = False, meta: dict | None = None, ctx: DistContext | None = None,
) -> RunResult:  # fmt: skip
    """Train `model` on prepared data into `run_dir` (see module doc); the core of `fit`."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    ctx = ctx or init_distributed(resolve_device(config.device).type)
    device = resolve_device(config.device, ctx.local_rank)
    model.to(device)
    space = model.label_space
    meta = {"taxonomy_digest": space.taxonomy.digest, "label_space": space.fingerprint(),
            "label_order": list(space.nodes), "output": model.output, **(meta or {})}  # fmt: skip
    meta.setdefault("model_name", config.model.name)
    r = make_runner(model, data, config, run_dir, ctx, device, meta)
    state = restore_last(r) if resume else RunState()
    if resume:
        r.restore_rng()  # last, so nothing between here and the first step draws from the RNGs
    else:  # `last` exists from the start, so an interrupt at any point leaves a resumable run
        if ctx.is_main:
            _start_run_dir(run_dir, config, space.taxonomy)
        save_last(r, state)
    solver = r.meta.get("solver", "gradient")  # lbfgs: "probe" events, not "step"s
    _emit(progress, ctx, "start", {"epochs": config.epochs, "start_epoch": state.epoch,
                                   "steps": len(r.loader), "run_dir": str(run_dir),
                                   "solver": solver})  # fmt: skip
    try:
        if solver == "lbfgs":
            status, message = probe_epoch(r, state, progress)
        else:
            status, message = train_epochs(r, state, progress)
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted; `last` holds epoch {state.epoch}"
    return write_summary(r, state, status, message, time.perf_counter() - start, progress)


def fit(
    model, dataset, split, config: TrainConfig, run_dir: str | Path, progress: Progress = None,
    *, resume: bool = False, store=None,
) -> RunResult:  # fmt: skip
    """Train a GenreModel on a Dataset and Split into `run_dir`; frozen encoders train on cached
    features. Writes the run's record (`run.json`); returns the RunResult (`summary.json` holds
    the same and more)."""

    config = with_image_size(config, model)
    ctx = init_distributed(resolve_device(config.device).type)
    device = resolve_device(config.device, ctx.local_rank)
    record = make_record(model, config, dataset, split)
    frozen = encoder_is_frozen(model)  # features are computed once, so never augmented
    data, store, rows = image_data(model, dataset, split, record.preprocess,
                                   config.data.augment and not frozen, store,
                                   record.scoring(model.label_space.taxonomy))  # fmt: skip
    if ctx.is_main and not resume:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        split.save(Path(run_dir) / "split.json")
        record.save(run_dir)
    trained = model
    if frozen:
        data = feature_data(model, data, rows, device, progress)
        trained = HeadOnly(model)
    else:
        fit_reduction(model, data.datasets["train"], device)
    solver = "lbfgs" if uses_probe(model, config.solver, frozen) else "gradient"
    meta = {"preprocess": record.preprocess.to_dict(), "solver": solver}
    return fit_data(trained, data, config, run_dir, progress, resume=resume, ctx=ctx, meta=meta)
