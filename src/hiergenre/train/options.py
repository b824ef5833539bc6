"""A TrainConfig from flat keyword options, what `hiergenre train flat|hierarchical` passes.

Each option that is not None fills the field of that name in `TrainConfig` or in one of its
sections (`epochs`; `lr` -> `optim.lr`; `image_size` -> `data.image_size`; `frozen` ->
`model.frozen`); `data` is the dataset's path and `model` the flat model's name. The model's own
options (`encoder`, `mode`, `strategy`, `width`, `features`) go to the config of the model that
takes them: the flat model's, or the hierarchical model's own, else its encoder's.

    >>> apply_options(TrainConfig(), "flat", epochs=3, lr=0.01, width=1.0).model.options
    {'width': 1.0}
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from hiergenre.errors import ConfigError
from hiergenre.models import list_models, model_config_class
from hiergenre.models.hierarchical import HierarchicalConfig
from hiergenre.models.registry import split_name
from hiergenre.train.config import DataSpec, ModelSpec, OptimSpec, TrainConfig

SECTIONS = {"data": DataSpec, "optim": OptimSpec, "model": ModelSpec}
RENAMED = {"data": ("data", "path"), "model": ("model", "name")}
MODEL_OPTIONS = ("encoder", "mode", "strategy", "width", "features")
PATHS = {"data": "dataset", "taxonomy": "taxonomy file", "weights": "weights file"}


def apply_options(config: TrainConfig, kind: str | None = None, **options: Any) -> TrainConfig:
    """`config` (a TOML file's, or `TrainConfig()`) with the options that are not None, for a
    `kind` flat or hierarchical run (see the module doc). A path that does not exist, an unknown
    model and a model option its model does not take are ConfigErrors."""
    given = {k: str(v) if isinstance(v, Path) else v for k, v in options.items() if v is not None}
    for name, what in PATHS.items():
        if name in given and not Path(given[name]).exists():
            raise ConfigError(f"{what} {given[name]} does not exist: check `{name}`")
    kind = kind or config.kind
    own = {k: given.pop(k) for k in MODEL_OPTIONS if k in given}
    spec = _model_spec(config.model, kind, given.pop("model", None), own)
    changes: dict[str | None, dict[str, Any]] = {None: {}, **{s: {} for s in SECTIONS}}
    for name, value in given.items():
        section, field = _field(name)
        changes[section][field] = value
    sections = {s: dataclasses.replace(spec if s == "model" else getattr(config, s), **changes[s])
                for s in SECTIONS}  # fmt: skip
    return dataclasses.replace(config, kind=kind, **changes[None], **sections)


def _field(name: str) -> tuple[str | None, str]:
    """(section or None for TrainConfig itself, field) of a flat option name."""
    if name in RENAMED:
        return RENAMED[name]
    for section, cls in SECTIONS.items():
        if name in {f.name for f in dataclasses.fields(cls)}:
            return section, name
    if name in {f.name for f in dataclasses.fields(TrainConfig)} - set(SECTIONS):
        return None, name
    raise TypeError(f"apply_options() got an unknown option {name!r}")


def _model_spec(spec: ModelSpec, kind: str, name: str | None, options: dict) -> ModelSpec:
    """The ModelSpec with the model's options placed; a hierarchical base keeps its options."""
    if kind != "hierarchical":
        name = name or spec.name
        check_model(name, "model")
        for key in options:
            _check_option(name, key)
        return dataclasses.replace(spec, name=name, options={**spec.options, **options})
    own = dict(spec.options) if spec.name == "hierarchical" else {}
    if "encoder" in options:
        check_model(options["encoder"], "backbone")
    hierarchy = {f.name for f in dataclasses.fields(HierarchicalConfig)}
    encoder = options.get("encoder", own.get("encoder", HierarchicalConfig().encoder))
    for key, value in options.items():
        if key in hierarchy:
            own[key] = value
        else:
            _check_option(encoder, key)
            own["encoder_options"] = {**own.get("encoder_options", {}), key: value}
    return dataclasses.replace(spec, name="hierarchical", options=own)


def _takes(model: str, option: str) -> bool:
    config_class = model_config_class(split_name(model)[0])
    return option in {f.name for f in dataclasses.fields(config_class)}


def _shown(model: str) -> str:
    return f"{model}/<name>" if model == "timm" else model


def _check_option(model: str, option: str) -> None:
    """ConfigError unless `model`'s config takes `option`, naming the models that do."""
    if not _takes(model, option):
        takers = ", ".join(_shown(m) for m in list_models() if _takes(m, option))
        raise ConfigError(f"`{option}` does not apply to {model}: it is an option of {takers}")


def check_model(name: str, what: str = "model") -> None:
    """ConfigError unless `name` is a registered model other than the hierarchical one (a flat
    model, or the hierarchical model's encoder: `what` says which), listing the choices."""
    if split_name(name)[0] not in list_models() or name == "hierarchical":
        choices = [m for m in list_models() if m not in ("hierarchical", "timm")]
        choices.append("timm/<any timm model name>")
        raise ConfigError(f"unknown {what} {name!r}: choose one of {', '.join(choices)}")


def default_run_dir(config: TrainConfig) -> Path:
    """`runs/<kind>-<model>-<timestamp>`, the run folder when none is given (a hierarchical run
    is named by its encoder)."""
    name = config.model.name if config.kind == "flat" else config.model.options.get("encoder", "")
    return Path("runs") / f"{config.kind}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
