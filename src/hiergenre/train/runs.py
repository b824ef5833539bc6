"""Runs from a config: resolve data, split and model, train into a run directory; load a run back.

`train_from_config` is what `hiergenre train ...` calls. `load_run` rebuilds the trained model of
a run directory (for evaluate / predict / export) from its `config.json`, `taxonomy.tsv` and
`best` checkpoint, refusing a checkpoint made for another taxonomy, label space or model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hiergenre.data import SPLIT_MODES, Split, make_split, resolve_dataset
from hiergenre.errors import CheckpointError, ConfigError
from hiergenre.models import get_model, make_config, model_config_class
from hiergenre.models.frozen import FlipAveraged
from hiergenre.taxonomy import LabelSpace, Taxonomy, load_taxonomy
from hiergenre.train.checkpoint import load_checkpoint
from hiergenre.train.config import (
    TrainConfig,
    config_from_dict,
    config_to_dict,
    image_size,
    validate_config,
    with_image_size,
)
from hiergenre.train.distributed import cleanup, init_distributed, is_main_process
from hiergenre.train.fit import fit
from hiergenre.train.record import LoadedRun, closed_nodes, legacy_record, read_record
from hiergenre.train.rundir import check_split, check_unfinished, prepare_run_dir
from hiergenre.train.summary import RunResult

log = logging.getLogger(__name__)
TRAINED = "trained"  # the label space of the nodes present in the training albums


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so model initialisation is reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_split_mode(output: str) -> str:
    """`auto` split: singlelabel (60/20/20) for softmax models, multilabel (80/10/10) otherwise."""
    return "singlelabel" if output == "softmax" else "multilabel"


def build_model(
    config: TrainConfig, taxonomy: Taxonomy, trained_nodes: Sequence[str] | None = None
):
    """The GenreModel a config names (label space `auto`: the model's own default; `trained`:
    the nodes present in the training albums, `trained_nodes`)."""

    space = None if config.model.label_space == "auto" else config.model.label_space
    if space == TRAINED:
        if not trained_nodes:
            raise ConfigError("label space 'trained' needs the training albums' nodes")
        keep = set(trained_nodes)
        space = LabelSpace(TRAINED, taxonomy, tuple(n for n in taxonomy.names if n in keep))
    options = dict(config.model.options)
    if config.model.weights is not None:
        if not Path(config.model.weights).is_file():
            raise ConfigError(
                f"weights file {config.model.weights} does not exist: check `weights`"
            )
        options["weights_file"] = str(config.model.weights)
    frozen = config.model.frozen  # None: the model's own default (lite0, style, timm: frozen)
    has_mode = "mode" in {f.name for f in dataclasses.fields(model_config_class(config.model.name))}
    if frozen is not None and has_mode:
        options.setdefault("mode", "frozen" if frozen else "finetune")
    model = get_model(config.model.name, space, taxonomy, **options)
    if frozen and not getattr(model, "encoder_frozen", False):
        model.freeze_encoder()
    if flip_features(config, model):
        model.encoder = FlipAveraged(model.encoder)
    need = max((getattr(m, "min_size", 0) for m in model.modules()), default=0)
    size = image_size(config, model)
    if size < need:  # its pooling stack would shrink the image to nothing
        raise ConfigError(f"`image_size` {size} is too small for "
                          f"{config.model.name}: use at least {need} pixels")  # fmt: skip
    return model


def flip_features(config: TrainConfig, model) -> bool:
    """Whether the encoder's features are averaged over the cover and its mirror image
    (`model.flip`; None: yes for a frozen encoder)."""
    flip = config.model.flip
    return bool(getattr(model, "encoder_frozen", False)) if flip is None else flip


def resolve_split(config: TrainConfig, dataset, taxonomy: Taxonomy, output: str):
    """A split file, or a split made by mode (`auto` by the model's output)."""

    mode = config.data.split
    if mode == "auto":
        mode = default_split_mode(output)
    if mode in SPLIT_MODES:
        return make_split(dataset, mode, seed=config.seed, taxonomy=taxonomy,
                          group_aware=config.data.group_aware)  # fmt: skip
    if not Path(mode).is_file():
        raise ConfigError(
            f"`split` {mode!r} is neither a split file nor a mode ({', '.join(SPLIT_MODES)})"
        )
    return Split.load(mode)


def _read_run(run_dir: Path) -> tuple[TrainConfig, Taxonomy]:
    config_path, tax_path = run_dir / "config.json", run_dir / "taxonomy.tsv"
    if not config_path.is_file() or not tax_path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory (no config.json/taxonomy.tsv)")
    try:
        values = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{config_path} is damaged ({exc}): restore it or start a new run"
        ) from None
    return config_from_dict(values, where=str(config_path)), load_taxonomy(tax_path)


def planned_output(config: TrainConfig) -> str:
    """The output type the configured model will have, without building it."""

    if config.model.name == "hierarchical":
        return "hierarchical"
    options = {k: v for k, v in config.model.options.items() if k != "weights_file"}
    return getattr(make_config(config.model.name, **options), "output", "sigmoid")


def _new_run_config(config: TrainConfig, output: str) -> TrainConfig:
    """The config as the run records it: the data path resolved, `auto` label space decided."""
    data, model = config.data, config.model
    if data.path is not None:
        data = dataclasses.replace(data, path=str(Path(data.path).resolve()))
    if model.label_space == "auto" and output == "sigmoid":
        model = dataclasses.replace(model, label_space=TRAINED)
    return dataclasses.replace(config, data=data, model=model)


def train_from_config(
    config: TrainConfig,
    run_dir: str | Path,
    progress=None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    epochs: int | None = None,
    split: Split | None = None,
) -> RunResult:
    """Train the run a config describes into `run_dir`; `resume` continues the run saved there
    (its own config and split; `epochs` may extend it); `overwrite` clears a finished or
    interrupted run there first (without either, a folder holding a run is refused). `split`:
    the split a new run trains on when the caller holds it already (the benchmark), instead of
    reading the file `config.data.split` names (which should hold the same split)."""

    run_dir = Path(run_dir)
    prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
    if resume:
        config, taxonomy = _read_run(run_dir)
        if epochs is not None:
            config = dataclasses.replace(config, epochs=epochs)
        check_unfinished(run_dir, config.epochs)
    else:
        taxonomy = load_taxonomy(config.data.taxonomy)
    validate_config(config)
    output = planned_output(config)  # checks the model's options before any data work
    dataset = resolve_dataset(config.data.path, taxonomy)
    if resume:
        split = Split.load(run_dir / "split.json")
        record = read_record(run_dir)
        trained = record.trained_nodes if record else None
    else:
        config = _new_run_config(config, output)
        if split is None:
            split = resolve_split(config, dataset, taxonomy, output)
        check_split(split, dataset)
        label_sets = dataset.label_sets  # a property that builds the list: once, not per album
        trained = closed_nodes([label_sets[i] for i in split.rows(dataset, "train")], taxonomy)
    seed_everything(config.seed)
    model = build_model(config, taxonomy, trained)
    config = with_image_size(config, model)
    if resume and is_main_process():  # the config may extend the epochs
        (run_dir / "config.json").write_text(json.dumps(config_to_dict(config), indent=1) + "\n")
    result = fit(model, dataset, split, config, run_dir, progress, resume=resume)
    cleanup(init_distributed("cpu"))  # the group fit joined (a no-op when alone)
    return result


def load_run(run_dir: str | Path, which: str = "best", device: str = "cpu"):
    """The trained run in `run_dir` as a `LoadedRun` (eval-mode model, config, taxonomy, label
    space, preprocess, trained nodes, scoring classes), from any working directory."""

    run_dir = Path(run_dir)
    config, taxonomy = _read_run(run_dir)
    record = read_record(run_dir)
    seed_everything(config.seed)
    model = build_model(config, taxonomy, record.trained_nodes if record else None)
    ckpt = load_checkpoint(run_dir / which, taxonomy_digest=taxonomy.digest,
                           label_space=model.label_space.fingerprint(),
                           model_name=config.model.name)  # fmt: skip
    if list(ckpt.meta.get("label_order", [])) != list(model.label_space.nodes):
        raise CheckpointError(f"{run_dir / which} has another label order: retrain this run")
    model.load_state_dict(ckpt.model_state)
    thresholds = ckpt.meta.get("decode_thresholds")  # chosen on dev (train/summary.py)
    model.decode_thresholds = [float(t) for t in thresholds] if thresholds else None
    rec = record or legacy_record(model, config, taxonomy)
    return LoadedRun(model.to(device).eval(), config, taxonomy, model.label_space,
                     rec.preprocess, rec.trained_nodes, rec.classes_space(taxonomy),
                     rec.scored_nodes, record, run_dir)  # fmt: skip
