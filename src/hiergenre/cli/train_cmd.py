"""`hiergenre train flat` and `hiergenre train hierarchical`: parse, build a TrainConfig, train."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hiergenre.cli import train_options as opts
from hiergenre.cli.common import console, console_err
from hiergenre.errors import ConfigError

train_app = typer.Typer(
    help="Train a model on a dataset (default: the built-in synthetic set) into a run directory.",
    no_args_is_help=True,
)
o = typer.Option


@train_app.command("flat")
@opts.with_shared_options
def flat(
    model: str = o(None, "--model", help=opts.MODEL_HELP),
    weights: Path = o(None, "--weights", help="Local ResNet-101 weights file (resnet101)."),
    frozen: bool = o(None, "--frozen/--finetune", help=opts.FROZEN_HELP),
    **options,
) -> None:
    """Train a flat model (one sigmoid or softmax over a label space)."""
    _train("flat", model=model, weights=weights, frozen=frozen, **options)


@train_app.command("hierarchical")
@opts.with_shared_options
def hierarchical(
    encoder: str = o(None, "--encoder", "--backbone", help=opts.ENCODER_HELP),
    strategy: str = o(None, "--strategy", help=opts.STRATEGY_HELP),
    loss: str = o(None, "--loss", help=opts.LOSS_HELP),
    mode: str = o(None, "--mode", help=opts.MODE_HELP),
    **options,
) -> None:
    """Train the hierarchical model: a top-level head plus one head per branch, chained."""
    _train("hierarchical", encoder=encoder, strategy=strategy, loss=loss, mode=mode, **options)


def _train(kind, *, out, resume, overwrite, config, quiet, details, **options) -> None:
    """The run folder's refusals first (one line before torch loads), then the TrainConfig of the
    config file and the options, trained by the library's `train_from_config`."""
    from hiergenre.runfolder import check_run_folder

    if resume and out is None:
        raise ConfigError("--resume needs --out RUN_DIR: the run directory to continue")
    if out is not None and not resume:  # what --resume needs is checked with the run itself
        check_run_folder(out, resume=resume, overwrite=overwrite)
    from hiergenre import train as lib

    cfg = lib.apply_options(
        lib.load_config(config) if config else lib.TrainConfig(), kind, **options
    )
    if resume and not (out / "last.safetensors").is_file():
        raise ConfigError(f"{out} holds no `last` checkpoint to resume: check --out")
    lib.validate_config(cfg)
    if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("under torchrun pass --out RUN_DIR so every process uses the same run")
    out, rank = out or lib.default_run_dir(cfg), int(os.environ.get("RANK", "0"))
    with _Bars(quiet or rank != 0) as bars:
        result = lib.train_from_config(
            cfg, out, bars.update, resume=resume, overwrite=overwrite, epochs=options.get("epochs")
        )
    if rank == 0:  # under torchrun only rank 0 reports
        _report(result, out, kind, details)


class _Bars:
    """Rich progress bars fed by fit's `progress(event, info)` callback: epochs and steps for
    gradient training; a linear probe's branches, L2 strengths and L-BFGS iterations."""

    def __init__(self, quiet: bool):
        self.quiet, self.tasks = quiet, {}
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console_err,
        )  # fmt: skip

    def __enter__(self):
        return self  # the bars start with training: an error before it is one line, no blank

    def __exit__(self, *exc):
        if self.bars.live.is_started:
            self.bars.stop()

    def _bar(self, name: str, total: int | None, completed: int, status: str = "") -> None:
        if name not in self.tasks:
            self.tasks[name] = self.bars.add_task(name, total=total, status="")
        self.bars.update(self.tasks[name], total=total, completed=completed, status=status)

    def update(self, event: str, info: dict) -> None:
        if self.quiet:
            return
        if event == "features":
            console_err.print(f"encoder features: {info['part']} ({info['n']} covers, cached)")
        elif event == "start":
            self.bars.start()
            if info.get("solver") != "lbfgs":  # a probe reports its solver instead ("probe")
                self._bar("epochs", info["epochs"], info["start_epoch"])
                self._bar("steps", info["steps"], 0)
        elif event == "step":
            self._bar("steps", info["steps"], info["step"], f"loss {info['loss']:.4f}")
        elif event == "epoch" and "epochs" in self.tasks:
            metric = info["dev"].get(info["metric"], float("nan"))
            status = f"dev {info['metric']} {metric:.4f} (best {info['best']:.4f})"
            self._bar("epochs", None, info["epoch"], status)
        elif event == "probe":
            if info["groups"] > 1:  # a hierarchical head: one probe per branch
                self._bar("branches", info["groups"], info["group"])
            stage = {"grid": "", "fit": ", nothing to choose", "refit": ", refit on train + dev"}
            self._bar("L2 strengths", info["steps"], info["step"],
                      f"L2 {info['l2']:g}{stage[info['stage']]}")  # fmt: skip
            self._bar("L-BFGS iterations", info["max_iter"], info["iteration"])


def _report(result, out: Path, kind: str, details: bool) -> None:
    """The run's summary; a diverged run exits 2, an interrupted one 130."""
    import json

    from hiergenre.cli.metrics_view import print_metrics

    summary = json.loads((out / "summary.json").read_text())
    title = f"train {kind}: {summary['model_name']} ({summary['status']})"
    print_metrics({"dev": summary["dev"], "test": summary["test"]}, title, details)
    console.print(
        f"epochs {summary['epochs_run']} (best {summary['best_epoch']}), "
        f"{summary['seconds']:.1f} s, {summary['params']:,} parameters "
        f"({summary['trainable_params']:,} trained), pretrained: {summary['pretrained']}, "
        f"run: {out}", highlight=False,
    )  # fmt: skip
    if summary.get("notice"):
        console.print(f"[yellow]notice:[/] {summary['notice']}", highlight=False)
    if result.status == "diverged":
        console_err.print(f"[bold red]error:[/] {result.message}", highlight=False)
        raise typer.Exit(2)
    if result.status == "interrupted":
        console_err.print(f"interrupted: the run is saved in {out}; resume it with\n  hiergenre "
                          f"train {kind} --out {out} --resume", highlight=False)  # fmt: skip
        raise typer.Exit(130)
