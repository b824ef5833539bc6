"""The model registry: a name -> factory map, each factory with its own frozen config dataclass."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Callable
from typing import Any

from hiergenre.errors import ConfigError
from hiergenre.taxonomy import LabelSpace, Taxonomy, get_label_space

Factory = Callable[[Any, "LabelSpace | None", Taxonomy], Any]
_MODELS: dict[str, tuple[type, Factory]] = {}
# Families named `family/<member>`: the member fills this config field (`timm/resnet50`).
_FAMILY_FIELD = {"timm": "model_name"}


def register_model(name: str, config_class: type | None = None) -> Callable[[Factory], Factory]:
    """Decorator: register `factory(config, label_space, taxonomy) -> GenreModel` under `name`.

    The config dataclass is `config_class`, or else the annotation of the factory's `config`.
    """

    def decorator(factory: Factory) -> Factory:
        if name in _MODELS:
            raise ConfigError(f"model {name!r} is registered twice: pick another name")
        cls = config_class or typing.get_type_hints(factory).get("config")
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"model {name!r}: annotate `config` with its dataclass")
        _MODELS[name] = (cls, factory)
        return factory

    return decorator


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_MODELS)


def split_name(name: str) -> tuple[str, dict[str, str]]:
    """`timm/resnet50` -> ("timm", {"model_name": "resnet50"}); other names map to themselves."""
    family, sep, member = name.partition("/")
    if sep and family in _FAMILY_FIELD:
        return family, {_FAMILY_FIELD[family]: member}
    return name, {}


def _lookup(name: str) -> tuple[type, Factory]:
    name = split_name(name)[0]
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=3)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint}: choose one of {', '.join(list_models())}")
    return _MODELS[name]


def model_config_class(name: str) -> type:
    """The frozen config dataclass of a registered model."""
    return _lookup(name)[0]


def make_config(name: str, **overrides: Any) -> Any:
    """A model's config with `overrides` filled in; unknown keys raise ConfigError."""
    family, member = split_name(name)
    overrides = {**overrides, **member}
    config_class = model_config_class(family)
    valid = [f.name for f in dataclasses.fields(config_class)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}: valid ones are "
            f"{', '.join(valid)}"
        )
    return config_class(**overrides)


def get_model(
    name: str,
    label_space: LabelSpace | str | None,
    taxonomy: Taxonomy,
    **overrides: Any,
):
    """Build a registered model; `label_space` None means the model's default space."""
    _, factory = _lookup(name)
    config = make_config(name, **overrides)
    if isinstance(label_space, str):
        label_space = get_label_space(label_space, taxonomy)
    if label_space is not None and label_space.taxonomy.digest != taxonomy.digest:
        raise ConfigError("the label space was built on another taxonomy: rebuild it on this one")
    return factory(config, label_space, taxonomy)
