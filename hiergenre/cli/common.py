"""Shared CLI pieces: consoles, common option types, taxonomy loading from an option."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hiergenre.taxonomy import Taxonomy, load_taxonomy

console = Console()
console_err = Console(stderr=True)


def taxonomy_from_option(path: Path | None) -> Taxonomy:
    """The shipped taxonomy, or the table given with `--taxonomy FILE`."""
    return load_taxonomy(path)
