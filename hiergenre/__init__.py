"""hiergenre: predict album genres from cover art over a 4-level genre taxonomy."""

from hiergenre.errors import HiergenreError

__version__ = "0.1.0"
__all__ = ["HiergenreError", "__version__"]
