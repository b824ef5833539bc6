"""The options `train flat` and `train hierarchical` share, declared once (`with_shared_options`
adds them to both commands), and the help of every train option with the library's defaults in
it (read by `cli.defaults`, so the train commands load without torch)."""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path

import typer

from hiergenre.cli.common import DEVICE
from hiergenre.cli.defaults import choices, library_value, registered_models, said

o = typer.Option
MODELS = dict(sorted(registered_models().items()))
FLAT_MODELS = [*(m for m in MODELS if m not in ("hierarchical", "timm")), "timm/<name>"]


def _train(name: str):
    return library_value("train/config.py", name)


def _shown(model: str) -> str:
    return f"{model}/<name>" if model == "timm" else model


def _per_model(option: str, value=None) -> str:
    """`pooled+style for lite0, pooled for timm/<name>`: an option's default per model (with
    `value`: the models whose default it is)."""
    found = [(m, d[option]) for m, d in MODELS.items() if option in d]
    if value is not None:
        return ", ".join(_shown(m) for m, v in found if v == value)
    return ", ".join(f"{said(v)} for {_shown(m)}" for m, v in found)


HIERARCHY = MODELS["hierarchical"]
HEAD_MODE = library_value("models/hierarchical.py", "DEFAULT_MODE")
AUTO_LOSS = _train("AUTO_LOSS")
NATIVE = library_value("models/lite0.py", "Lite0Encoder.native_size")
WIDTHS = sorted({d["width"] for d in MODELS.values() if "width" in d})
MODEL_HELP = f"{choices(FLAT_MODELS)} (default {_train('ModelSpec.name')})."
ENCODER_HELP = f"{choices(FLAT_MODELS)} (default {HIERARCHY['encoder']})."
FROZEN_HELP = (f"Freeze the encoder (default: frozen for {_per_model('mode', 'frozen')}; "
               "fine-tuned otherwise).")  # fmt: skip
STRATEGY_HELP = (f"{choices(library_value('models/hierarchical.py', 'STRATEGIES'))} "
                 f"(default {HIERARCHY['strategy']}).")  # fmt: skip
LOSS_HELP = (f"{choices(_train('HIERARCHICAL_LOSSES'))} (default {AUTO_LOSS['hierarchical']}, "
             "on the chained node probabilities).")  # fmt: skip
MODE_HELP = (f"Per-branch heads: {choices(library_value('models/heads.py', 'MODES'))}; softmax "
             f"picks one child per branch (default: {HEAD_MODE[True]} on a frozen encoder, "
             f"{HEAD_MODE[False]} otherwise).")  # fmt: skip

# name -> (type, option): added after each command's own options by `with_shared_options`.
SHARED = {
    "width": (float, o(None, "--width", help="Width multiplier of the poster's CNNs (default "
                       f"{', '.join(map(said, WIDTHS))}; 1 = the poster's).")),
    "features": (str, o(None, "--features", help="Frozen pretrained encoders: "
                        f"{choices(library_value('models/frozen.py', 'FEATURES'))} (default "
                        f"{_per_model('features')}).")),
    "flip": (bool, o(None, "--flip/--no-flip", help="Average frozen features over the cover and "
                     "its mirror image (default: on for frozen encoders).")),
    "solver": (str, o(None, "--solver", help=f"{choices(_train('SOLVERS'))}; auto fits a frozen "
                      "encoder's head as a linear probe by L-BFGS and trains other models by "
                      f"gradient descent (default {_train('TrainConfig.solver')}).")),
    "data": (Path, o(None, "--data", help="Dataset directory (manifest.csv); default: the "
                     "synthetic set.")),
    "label_space": (str, o(None, "--label-space", help="trained (the genres of the training "
                           "albums; default for sigmoid models) | all | koenig12 | level1 | "
                           "oramas250.")),
    "split": (str, o(None, "--split", help="Split JSON file or mode: multilabel | singlelabel | "
                     "koenig-*.")),
    "group_aware": (bool, o(None, "--group-aware/--no-group-aware", help="Keep each artist in "
                            "one split part.")),
    "image_size": (int, o(None, "--image-size", help="Input size in pixels (>= "
                          f"{_train('MIN_IMAGE_SIZE')}; the poster used 224; default "
                          f"{_train('CPU_IMAGE_SIZE')}, pretrained encoders their native size: "
                          f"{NATIVE} for lite0 and style on {MODELS['style']['backbone']}, a "
                          "timm model's pretrained size).")),
    "epochs": (int, o(None, "--epochs", help=f"Epochs (default {_train('TrainConfig.epochs')}).")),
    "batch_size": (int, o(None, "--batch-size", help="Global batch size (default "
                          f"{_train('TrainConfig.batch_size')}).")),
    "lr": (float, o(None, "--lr", help=f"Learning rate (default {said(_train('OptimSpec.lr'))}).")),
    "weight_decay": (float, o(None, "--weight-decay", help="Weight decay (default "
                              f"{said(_train('OptimSpec.weight_decay'))}).")),
    "optimizer": (str, o(None, "--optimizer", help=f"{choices(_train('OPTIMIZERS'))} (default "
                         f"{_train('OptimSpec.optimizer')}).")),
    "schedule": (str, o(None, "--schedule", help=f"{choices(_train('SCHEDULES'))}, stepped per "
                        f"epoch (default {_train('OptimSpec.schedule')}).")),
    "patience": (int, o(None, "--patience", help="Early stopping patience in epochs (0: off; "
                        f"default {_train('TrainConfig.patience')}).")),
    "balance": (str, o(None, "--balance", help=f"{choices(_train('BALANCES'))} (default "
                       f"{_train('TrainConfig.balance')}).")),
    "seed": (int, o(None, "--seed", help="Seed for init, split and data order (default "
                    f"{_train('TrainConfig.seed')}).")),
    "device": (str, DEVICE),
    "out": (Path, o(None, "--out", help="Run directory (default "
                    "runs/<kind>-<model>-<timestamp>).")),
    "resume": (bool, o(False, "--resume", help="Continue the run in --out from its `last` "
                       "checkpoint.")),
    "overwrite": (bool, o(False, "--overwrite", help="Replace the run in --out (its files are "
                          "removed first).")),
    "config": (Path, o(None, "--config", help="TOML file filling the training config; flags "
                       "override it.")),
    "taxonomy": (Path, o(None, "--taxonomy", help="Genre table (genre<TAB>parent); default: "
                         "shipped MuMu tree.")),
    "quiet": (bool, o(False, "--quiet", "-q", help="No progress bars, only the summary.")),
    "compile": (bool, o(None, "--compile/--no-compile", help="torch.compile the model (opt-in).")),
    "details": (bool, o(False, "--details", help="Also show per-label tables and every number "
                        "of the summary.")),
}  # fmt: skip


def with_shared_options(command):
    """The command with SHARED's options after its own: typer reads a command's options from its
    signature, and the command gets the shared ones in its `**options`."""
    hints = typing.get_type_hints(command)
    params = inspect.signature(command).parameters.values()
    own = [p.replace(annotation=hints[p.name]) for p in params if p.kind is not p.VAR_KEYWORD]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, (kind, option) in SHARED.items()
    ]

    @functools.wraps(command)
    def with_options(**options):
        return command(**options)

    with_options.__signature__ = inspect.Signature([*own, *shared])
    with_options.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
    return with_options
