"""hiergenre: predict album genres from cover art over a 4-level genre taxonomy.

The common jobs are one name away, imported on first use so `import hiergenre` stays instant:
`load_predictor(run_dir)`, `load_taxonomy(path=None)`, `load_dataset(path, taxonomy)`,
`load_run(run_dir)`.
"""

from __future__ import annotations

import importlib

from hiergenre.errors import HiergenreError

__version__ = "0.1.0"

_LAZY = {
    "load_predictor": "hiergenre.predictor",
    "load_taxonomy": "hiergenre.taxonomy",
    "load_dataset": "hiergenre.data.manifest",
    "load_run": "hiergenre.train",
}
__all__ = ["HiergenreError", "__version__", *_LAZY]


def __getattr__(name: str):
    """Import the module behind a top-level name on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hiergenre' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
