"""`hiergenre train flat` and `hiergenre train hierarchical`: parse, build a TrainConfig, train."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hiergenre.cli.common import DEVICE, console, console_err
from hiergenre.errors import ConfigError

train_app = typer.Typer(
    help="Train a model on a dataset (default: the built-in synthetic set) into a run directory.",
    no_args_is_help=True,
)

HIER_LOSSES = ("bce", "conditional", "mcloss")  # what train.build accepts for a hierarchical model

o = typer.Option
DATA = o(None, "--data", help="Dataset directory (manifest.csv); default: the synthetic set.")
LABEL_SPACE = o(
    None,
    "--label-space",
    help="trained (the genres of the training albums; default for sigmoid models) | all | "
    "koenig12 | level1 | oramas250.",
)
SPLIT = o(None, "--split", help="Split JSON file or mode: multilabel | singlelabel | koenig-*.")
GROUP = o(None, "--group-aware/--no-group-aware", help="Keep each artist in one split part.")
SIZE = o(
    None, "--image-size", help="Input size in pixels (>= 32; default 64, the poster used 224)."
)
EPOCHS = o(None, "--epochs", help="Epochs (default 8).")
BATCH = o(None, "--batch-size", help="Global batch size (default 32).")
LR = o(None, "--lr", help="Learning rate (default 1e-3).")
WD = o(None, "--weight-decay", help="Weight decay (default 1e-4).")
OPTIM = o(None, "--optimizer", help="adamw | sgd.")
SCHED = o(None, "--schedule", help="cosine | step | none (stepped per epoch).")
PATIENCE = o(None, "--patience", help="Early stopping patience in epochs (0: off; default 5).")
BALANCE = o(None, "--balance", help="auto | none | pos-weight | class-balanced | sampler.")
SEED = o(None, "--seed", help="Seed for init, split and data order (default 230).")
OUT = o(None, "--out", help="Run directory (default runs/<kind>-<model>-<timestamp>).")
RESUME = o(False, "--resume", help="Continue the run in --out from its `last` checkpoint.")
OVERWRITE = o(False, "--overwrite", help="Replace the run in --out (its files are removed first).")
CONFIG = o(None, "--config", help="TOML file filling the training config; flags override it.")
TAXONOMY = o(None, "--taxonomy", help="Genre table (genre<TAB>parent); default: shipped MuMu tree.")
QUIET = o(False, "--quiet", "-q", help="No progress bars, only the summary.")
DETAILS = o(False, "--details", help="Also show per-label tables and every number of the summary.")
COMPILE = o(None, "--compile/--no-compile", help="torch.compile the model (opt-in).")
FEATURES = o(None, "--features", help="Frozen pretrained encoders: pooled | style | pooled+style "
              "(default pooled+style for lite0, pooled for timm/...).")  # fmt: skip
FLIP = o(None, "--flip/--no-flip", help="Average frozen features over the cover and its mirror "
         "image (default: on for frozen encoders).")  # fmt: skip
SOLVER = o(None, "--solver", help="auto (linear probe by L-BFGS for frozen encoders, else "
           "gradient) | lbfgs | gradient.")  # fmt: skip
WIDTH = o(
    None, "--width", help="Width multiplier of the poster's CNNs (default 0.25; 1 = the poster's)."
)


def _check_out(out: Path | None, resume: bool, overwrite: bool) -> None:
    """The run folder's refusals first: one line before torch and the data are loaded."""
    from hiergenre.runfolder import check_run_folder

    if resume and out is None:
        raise ConfigError("--resume needs --out RUN_DIR: the run directory to continue")
    if out is not None and not resume:  # what --resume needs is checked with the run itself
        check_run_folder(out, resume=resume, overwrite=overwrite)


def _base_config(config_file: Path | None):
    from hiergenre.train import TrainConfig, load_config

    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist: check --config")
    return load_config(config_file) if config_file is not None else TrainConfig()


def _set(obj, **values):
    """dataclasses.replace with the values that were given (not None)."""
    given = {k: v for k, v in values.items() if v is not None}
    return dataclasses.replace(obj, **given) if given else obj


def _with_width(options: dict, width: float | None) -> dict:
    """`--width` for the poster's CNNs (the model's config owns the default)."""
    return options if width is None else {**options, "width": width}


def _with_features(model: str, options: dict, features: str | None) -> dict:
    """`--features` for the pretrained encoders that take it (lite0, timm/...)."""
    from hiergenre.models import model_config_class
    from hiergenre.models.registry import split_name

    if features is None:
        return options
    fields = {f.name for f in dataclasses.fields(model_config_class(split_name(model)[0]))}
    if "features" not in fields:
        raise ConfigError(f"--features needs a pretrained encoder (lite0, timm/...), not {model}")
    return {**options, "features": features}


def _check_path(path: Path | None, what: str) -> None:
    if path is not None and not path.exists():
        raise ConfigError(f"{what} {path} does not exist: check the path")


def _common(
    config,
    *,
    data,
    label_space,
    split,
    group_aware,
    image_size,
    epochs,
    batch_size,
    lr,
    weight_decay,
    optimizer,
    schedule,
    patience,
    balance,
    seed,
    device,
    compile_,
    taxonomy,
):
    _check_path(data, "dataset")
    _check_path(taxonomy, "taxonomy file")
    ds = _set(config.data, path=str(data) if data else None, split=split, group_aware=group_aware,
              image_size=image_size, taxonomy=str(taxonomy) if taxonomy else None)  # fmt: skip
    opt = _set(config.optim, lr=lr, weight_decay=weight_decay, optimizer=optimizer,
               schedule=schedule)  # fmt: skip
    model = _set(config.model, label_space=label_space)
    return _set(
        config,
        data=ds,
        optim=opt,
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        balance=balance,
        seed=seed,
        device=device,
        compile=compile_,
    )


def _run(
    config,
    kind: str,
    out: Path | None,
    flags: tuple[bool, bool, bool],
    epochs: int | None,
    details: bool = False,
):
    from hiergenre.train import train_from_config, validate_config

    resume, overwrite, quiet = flags
    if resume and not (out / "last.safetensors").is_file():
        raise ConfigError(f"{out} holds no `last` checkpoint to resume: check --out")
    validate_config(config)
    if out is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("under torchrun pass --out RUN_DIR so every process uses the same run")
    if out is None:
        name = config.model.name if kind == "flat" else config.model.options.get("encoder", "")
        out = Path("runs") / f"{kind}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    rank = int(os.environ.get("RANK", "0"))
    with _Bars(quiet or rank != 0) as bars:
        result = train_from_config(config, out, bars.update, resume=resume, overwrite=overwrite,
                                   epochs=epochs)  # fmt: skip
    if rank != 0:  # under torchrun only rank 0 reports
        return
    _render(result, out, kind, details)
    if result.status == "diverged":
        console_err.print(f"[bold red]error:[/] {result.message}", highlight=False)
        raise typer.Exit(2)
    if result.status == "interrupted":
        console_err.print(
            f"interrupted: the run is saved in {out}; resume it with\n"
            f"  hiergenre train {kind} --out {out} --resume", highlight=False,
        )  # fmt: skip
        raise typer.Exit(130)


class _Bars:
    """Rich progress bars fed by fit's `progress(event, info)` callback."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console_err,
        )  # fmt: skip
        self.epochs = self.steps = None

    def __enter__(self):
        return self  # the bars start with training: an error before it is one line, no blank

    def __exit__(self, *exc):
        if self.bars.live.is_started:
            self.bars.stop()

    def update(self, event: str, info: dict) -> None:
        if self.quiet:
            return
        if event == "features":
            console_err.print(f"encoder features: {info['part']} ({info['n']} covers, cached)")
        elif event == "start":
            self.bars.start()
            self.epochs = self.bars.add_task("epochs", total=info["epochs"],
                                             completed=info["start_epoch"], status="")  # fmt: skip
            self.steps = self.bars.add_task("steps", total=info["steps"], status="")
        elif event == "step" and self.steps is not None:
            self.bars.update(self.steps, completed=info["step"], total=info["steps"],
                             status=f"loss {info['loss']:.4f}")  # fmt: skip
        elif event == "epoch" and self.epochs is not None:
            metric = info["dev"].get(info["metric"], float("nan"))
            status = f"dev {info['metric']} {metric:.4f} (best {info['best']:.4f})"
            self.bars.update(self.epochs, completed=info["epoch"], status=status)


def _render(result, out: Path, kind: str, details: bool = False) -> None:
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


@train_app.command("flat")
def flat(
    model: str = o(None, "--model", help="koenig-multilabel | koenig-singlelabel | resnet101 | "
                   "lite0 | style | tiny (default koenig-multilabel)."),  # fmt: skip
    width: float = WIDTH,
    weights: Path = o(None, "--weights", help="Local ResNet-101 weights file (resnet101)."),
    frozen: bool = o(None, "--frozen/--finetune", help="Freeze the encoder (default: frozen "
                     "for lite0 and style, fine-tuned otherwise)."),  # fmt: skip
    features: str = FEATURES, flip: bool = FLIP, solver: str = SOLVER,
    data: Path = DATA, label_space: str = LABEL_SPACE, split: str = SPLIT,
    group_aware: bool = GROUP, image_size: int = SIZE, epochs: int = EPOCHS,
    batch_size: int = BATCH, lr: float = LR, weight_decay: float = WD, optimizer: str = OPTIM,
    schedule: str = SCHED, patience: int = PATIENCE, balance: str = BALANCE, seed: int = SEED,
    device: str = DEVICE, out: Path = OUT, resume: bool = RESUME, overwrite: bool = OVERWRITE,
    config: Path = CONFIG, taxonomy: Path = TAXONOMY, quiet: bool = QUIET,
    compile_: bool = COMPILE, details: bool = DETAILS,
) -> None:  # fmt: skip
    """Train a flat model (one sigmoid or softmax over a label space)."""
    _check_out(out, resume, overwrite)
    cfg = _base_config(config)
    name = model or cfg.model.name
    _check_flat_model(name, "model")
    _check_path(weights, "weights file")
    options = _with_features(name, _with_width(dict(cfg.model.options), width), features)
    spec = _set(cfg.model, name=name, weights=str(weights) if weights else None, frozen=frozen,
                flip=flip)  # fmt: skip
    cfg = _set(cfg, kind="flat", model=dataclasses.replace(spec, options=options), solver=solver)
    cfg = _common(cfg, data=data, label_space=label_space, split=split, group_aware=group_aware,
                  image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  weight_decay=weight_decay, optimizer=optimizer, schedule=schedule,
                  patience=patience, balance=balance, seed=seed, device=device,
                  compile_=compile_, taxonomy=taxonomy)  # fmt: skip
    _run(cfg, "flat", out, (resume, overwrite, quiet), epochs, details)


def _check_flat_model(name: str, what: str) -> None:
    """A registered model other than `hierarchical`, or ConfigError listing the choices."""
    from hiergenre.models import list_models
    from hiergenre.models.registry import split_name

    if split_name(name)[0] not in list_models() or name == "hierarchical":
        choices = ", ".join(m for m in list_models() if m not in ("hierarchical", "timm"))
        choices += ", timm/<any timm model name>"
        raise ConfigError(f"unknown {what} {name!r}: choose one of {choices}")


@train_app.command("hierarchical")
def hierarchical(
    backbone: str = o(None, "--encoder", "--backbone", help="koenig-multilabel | lite0 | resnet101"
                      " | style | tiny | timm/<name> (default koenig-multilabel)."),  # fmt: skip
    strategy: str = o(None, "--strategy", help="shared-heads (default) | per-branch-models."),
    loss: str = o(None, "--loss", help=f"{' | '.join(HIER_LOSSES)} (default bce, on the chained "
                  "node probabilities)."),  # fmt: skip
    mode: str = o(None, "--mode", help="Per-branch heads: softmax (one child per branch; default "
                  "on a frozen encoder) | sigmoid (default otherwise)."),  # fmt: skip
    width: float = WIDTH, features: str = FEATURES, flip: bool = FLIP, solver: str = SOLVER,
    data: Path = DATA, label_space: str = LABEL_SPACE, split: str = SPLIT,
    group_aware: bool = GROUP, image_size: int = SIZE, epochs: int = EPOCHS,
    batch_size: int = BATCH, lr: float = LR, weight_decay: float = WD, optimizer: str = OPTIM,
    schedule: str = SCHED, patience: int = PATIENCE, balance: str = BALANCE, seed: int = SEED,
    device: str = DEVICE, out: Path = OUT, resume: bool = RESUME, overwrite: bool = OVERWRITE,
    config: Path = CONFIG, taxonomy: Path = TAXONOMY, quiet: bool = QUIET,
    compile_: bool = COMPILE, details: bool = DETAILS,
) -> None:  # fmt: skip
    """Train the hierarchical model: a top-level head plus one head per branch, chained."""
    _check_out(out, resume, overwrite)
    cfg = _base_config(config)
    options = dict(cfg.model.options) if cfg.model.name == "hierarchical" else {}
    if backbone is not None:
        _check_flat_model(backbone, "backbone")
        options["encoder"] = backbone
    if width is not None:
        options["encoder_options"] = _with_width(dict(options.get("encoder_options", {})), width)
    if features is not None:
        encoder = options.get("encoder", "koenig-multilabel")
        enc_options = dict(options.get("encoder_options", {}))
        options["encoder_options"] = _with_features(encoder, enc_options, features)
    given = {"mode": mode, "strategy": strategy}
    options.update({k: v for k, v in given.items() if v is not None})
    spec = _set(dataclasses.replace(cfg.model, name="hierarchical", options=options), flip=flip)
    if loss is not None and loss not in HIER_LOSSES:  # the same list as --loss's help
        raise ConfigError(f"unknown --loss {loss!r}: choose {' | '.join(HIER_LOSSES)}")
    cfg = _set(cfg, kind="hierarchical", model=spec, loss=loss, solver=solver)
    cfg = _common(cfg, data=data, label_space=label_space, split=split, group_aware=group_aware,
                  image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                  weight_decay=weight_decay, optimizer=optimizer, schedule=schedule,
                  patience=patience, balance=balance, seed=seed, device=device,
                  compile_=compile_, taxonomy=taxonomy)  # fmt: skip
    _run(cfg, "hierarchical", out, (resume, overwrite, quiet), epochs, details)
