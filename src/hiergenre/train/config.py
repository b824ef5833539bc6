"""Training configuration: frozen dataclasses with every default in one place, and TOML loading.

A TOML file fills the same dataclasses: top-level keys are `TrainConfig` fields, the tables
`[model]`, `[data]` and `[optim]` fill `ModelSpec`, `DataSpec` and `OptimSpec`, and
`[model.options]` holds keyword overrides for the model factory (width, backbone, strategy...).

    epochs = 20
    [data]
    image_size = 128
    [model]
    name = "koenig-multilabel"
    [model.options]
    width = 1.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiergenre.device import DEVICES
from hiergenre.errors import ConfigError, check_choice

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

KINDS = ("flat", "hierarchical")
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "step", "none")
BALANCES = ("auto", "none", "pos-weight", "class-balanced", "sampler")
LOSSES = ("auto", "bce", "ce", "conditional", "mcloss")
# The losses each output takes, and the one `auto` picks: BCE for sigmoid, CE for softmax, and for
# a hierarchical model BCE on the chained node probabilities (see build.resolved_loss).
HIERARCHICAL_LOSSES = ("bce", "conditional", "mcloss")
OUTPUT_LOSSES = {"sigmoid": ("bce",), "softmax": ("ce",), "hierarchical": HIERARCHICAL_LOSSES}
AUTO_LOSS = {"sigmoid": "bce", "softmax": "ce", "hierarchical": "bce"}
MIN_IMAGE_SIZE = 32
CPU_IMAGE_SIZE = 64  # the input size of models without a native one (the poster's CNNs on CPU)
SOLVERS = ("auto", "lbfgs", "gradient")
L2_GRID = (1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)  # linear probes on standardised features


@dataclass(frozen=True)
class ModelSpec:
    """Which model to build: a registry name, its label space and factory overrides."""

    name: str = "koenig-multilabel"
    label_space: str = "auto"  # auto: the model's default (koenig12 for koenig-singlelabel)
    weights: str | None = None  # a local weights file (resnet101)
    frozen: bool | None = None  # None: the model's own default (lite0/style/timm frozen)
    options: dict[str, Any] = field(default_factory=dict)
    flip: bool | None = None  # flip-averaged features; None: on for frozen encoders


@dataclass(frozen=True)
class DataSpec:
    """Where the albums come from, how they are split and how images are fed."""

    path: str | None = None  # None: the built-in synthetic set
    split: str = "auto"  # a split JSON file, a mode, or auto: singlelabel for softmax models
    group_aware: bool = False
    image_size: int | None = None  # None: a pretrained encoder's native size, else 64 (CPU)
    augment: bool = True
    num_workers: int = -1  # -1: 0 on CPU, 4 on CUDA
    taxonomy: str | None = None  # None: the shipped MuMu taxonomy


@dataclass(frozen=True)
class OptimSpec:
    """Optimizer and learning-rate schedule (stepped once per epoch)."""

    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # SGD only
    schedule: str = "cosine"
    step_size: int = 10  # epochs between decays for the step schedule
    gamma: float = 0.1
    encoder_lr_scale: float = 0.1  # fine-tuning a pretrained encoder: its lr = lr * this


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on; stored in the run directory and in checkpoints."""

    kind: str = "flat"
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    optim: OptimSpec = field(default_factory=OptimSpec)
    epochs: int = 8
    batch_size: int = 32
    patience: int = 5  # epochs without a better dev metric before stopping; 0 disables
    loss: str = "auto"  # auto: bce (sigmoid; hierarchical: on chained probs), ce (softmax)
    soft_labels: float = 0.0  # beta of tree-distance soft labels (Bertinetto et al.); 0 is off
    balance: str = "auto"  # auto: class-balanced for softmax, none otherwise
    seed: int = 230
    device: str = "auto"
    compile: bool = False
    amp: bool = True  # bf16 autocast on CUDA; ignored on CPU
    log_every: int = 10  # steps between progress events (and non-finite loss checks)
    solver: str = "auto"  # auto: lbfgs (a linear probe) for frozen encoders, else gradient
    l2_grid: tuple[float, ...] = L2_GRID  # the linear probe's L2 strengths, chosen on dev
    probe_iters: int = 100  # the linear probe's L-BFGS iterations per L2 strength


_SECTIONS = {"model": ModelSpec, "data": DataSpec, "optim": OptimSpec}


def validate_config(config: TrainConfig) -> TrainConfig:
    """Raise ConfigError (one line, says what to do) for an out-of-range or unknown value."""
    check_choice("training kind", config.kind, KINDS)
    check_choice("optimizer", config.optim.optimizer, OPTIMIZERS)
    check_choice("schedule", config.optim.schedule, SCHEDULES)
    check_choice("balance mode", config.balance, BALANCES)
    if config.kind == "hierarchical" and config.loss not in ("auto", *HIERARCHICAL_LOSSES):
        listed = " | ".join(HIERARCHICAL_LOSSES)
        raise ConfigError(
            f"unknown `loss` {config.loss!r}: choose {listed} for a hierarchical model"
        )
    check_choice("loss", config.loss, LOSSES)
    check_choice("`device`", config.device, DEVICES)
    check_choice("solver", config.solver, SOLVERS)
    if not config.l2_grid or min(config.l2_grid) <= 0:
        raise ConfigError(f"l2_grid needs positive strengths, got {list(config.l2_grid)}")
    if config.probe_iters < 1:
        raise ConfigError(f"probe_iters must be at least 1, got {config.probe_iters}")
    if not config.optim.encoder_lr_scale > 0:
        raise ConfigError(f"encoder_lr_scale must be positive, got {config.optim.encoder_lr_scale}")
    positive = {"epochs": config.epochs, "batch_size": config.batch_size}
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"`{name}` must be at least 1, got {value}")
    if config.data.image_size is not None and config.data.image_size < MIN_IMAGE_SIZE:
        raise ConfigError(
            f"`image_size` must be at least {MIN_IMAGE_SIZE} pixels, got {config.data.image_size}"
        )
    if not config.optim.lr > 0:
        raise ConfigError(f"`lr` must be positive, got {config.optim.lr}")
    if config.optim.weight_decay < 0:
        raise ConfigError(f"`weight_decay` must be >= 0, got {config.optim.weight_decay}")
    if config.patience < 0:
        raise ConfigError(
            f"`patience` must be >= 0 (0 disables early stopping), got {config.patience}"
        )
    if config.soft_labels < 0:
        raise ConfigError(f"soft_labels must be >= 0, got {config.soft_labels}")
    if config.log_every < 1:
        raise ConfigError(f"log_every must be at least 1, got {config.log_every}")
    return config


def _coerce(cls: type, key: str, value: Any, where: str) -> Any:
    """Check a TOML/JSON value against the dataclass field's annotation (loosely)."""
    annotation = str({f.name: f.type for f in dataclasses.fields(cls)}[key])
    if value is None and "None" in annotation:
        return None
    if annotation.startswith("bool"):
        ok = isinstance(value, bool)
    elif annotation.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation.startswith("float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif annotation.startswith("str"):
        ok = isinstance(value, str)
    elif annotation.startswith("dict"):
        ok = isinstance(value, dict)
    elif annotation.startswith("tuple"):
        ok = isinstance(value, (list, tuple))
        value = tuple(value) if ok else value
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where}: {key} = {value!r} should be of type {annotation}")
    return value


def _fill(cls: type, values: dict[str, Any], where: str, base: Any) -> Any:
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"valid keys are {', '.join(names)}"
        )
    changes = {}
    for key, value in values.items():
        if key in _SECTIONS and cls is TrainConfig:
            sub = _SECTIONS[key]
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key} must be a table ([{key}])")
            changes[key] = _fill(sub, value, f"{where} [{key}]", getattr(base, key))
        else:
            changes[key] = _coerce(cls, key, value, where)
    return dataclasses.replace(base, **changes)


def config_from_dict(
    values: dict[str, Any], base: TrainConfig | None = None, where: str = "config"
) -> TrainConfig:
    """Fill a TrainConfig from nested dicts (TOML or config.json); unknown keys are an error."""
    return _fill(TrainConfig, values, where, base or TrainConfig())


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain nested dict of every field (JSON-ready)."""
    return dataclasses.asdict(config)


def load_config(path: str | Path, base: TrainConfig | None = None) -> TrainConfig:
    """Read a TOML file into a TrainConfig (over `base`); ConfigError on a bad file or key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist: check the `config` path")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix the file") from None
    return validate_config(config_from_dict(values, base, where=str(path)))


def image_size(config: TrainConfig, model) -> int:
    """The input size: `--image-size`, else the encoder's native size (pretrained encoders:
    lite0 224, a timm model its pretrained config's), else the CPU default of 64 px."""
    if config.data.image_size is not None:
        return int(config.data.image_size)
    native = getattr(getattr(model, "encoder", None), "native_size", None)
    return int(native or CPU_IMAGE_SIZE)


def with_image_size(config: TrainConfig, model) -> TrainConfig:
    """The config with `data.image_size` decided (what the run records)."""
    data = dataclasses.replace(config.data, image_size=image_size(config, model))
    return dataclasses.replace(config, data=data)
