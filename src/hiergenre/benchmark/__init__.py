"""`hiergenre benchmark`: the poster's models, the project's models and honest baselines trained
and evaluated on one saved split, reported beside the poster's numbers."""

from hiergenre.benchmark.api import run_benchmark
from hiergenre.benchmark.config import (
    ALL_NAMES,
    BASELINE_NAMES,
    MODEL_NAMES,
    POSTER,
    BenchmarkConfig,
    ModelPlan,
    parse_models,
)
from hiergenre.benchmark.report import headline, level_albums, level_table, table

__all__ = [
    "ALL_NAMES",
    "BASELINE_NAMES",
    "MODEL_NAMES",
    "POSTER",
    "BenchmarkConfig",
    "ModelPlan",
    "headline",
    "level_albums",
    "level_table",
    "parse_models",
    "run_benchmark",
    "table",
]
