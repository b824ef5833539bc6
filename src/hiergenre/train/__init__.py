"""Training: one explicit loop for every model, resumable runs, checkpoints, DDP under torchrun."""

from hiergenre.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from hiergenre.train.config import (
    DataSpec,
    ModelSpec,
    OptimSpec,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    validate_config,
)
from hiergenre.train.fit import fit, fit_data
from hiergenre.train.inputs import TrainData
from hiergenre.train.loop import evaluate, train_one_epoch
from hiergenre.train.options import apply_options, default_run_dir
from hiergenre.train.runs import build_model, load_run, train_from_config
from hiergenre.train.summary import RunResult

__all__ = [
    "Checkpoint",
    "DataSpec",
    "ModelSpec",
    "OptimSpec",
    "RunResult",
    "TrainConfig",
    "TrainData",
    "apply_options",
    "default_run_dir",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "evaluate",
    "fit",
    "fit_data",
    "load_checkpoint",
    "load_config",
    "load_run",
    "save_checkpoint",
    "train_from_config",
    "train_one_epoch",
    "validate_config",
]
