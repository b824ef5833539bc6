"""The benchmark's one entry point: K folds when `config.folds` says so, else one split."""

from __future__ import annotations

from pathlib import Path

from hiergenre.benchmark.config import BenchmarkConfig
from hiergenre.benchmark.multifold import run_folds
from hiergenre.benchmark.run import run_split
from hiergenre.errors import ConfigError


def run_benchmark(config: BenchmarkConfig, progress=None) -> dict:
    """Train, evaluate and report every model of `config` (on `config.folds` folds, or one
    split); returns the results dict that results.json holds (see `hiergenre.benchmark.report`)."""
    if config.weights is not None and not Path(config.weights).is_file():
        raise ConfigError(
            f"weights file {config.weights} does not exist: give the path of a local weights file"
        )
    if config.folds:
        return run_folds(config, progress)
    return run_split(config, progress)
