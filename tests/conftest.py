"""Shared fixtures: where the reference data lives (`shared_data`, skipping when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path | None:
    """The reference data folder (`../shared/data` beside the repo, or `$HIERGENRE_SHARED`).

    `HIERGENRE_SHARED` may name the shared folder (holding `data/`) or the data folder itself.
    """
    env = os.environ.get("HIERGENRE_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    for candidate in (base / "data", base):
        if (candidate / "mumu").is_dir() or (candidate / "discogs-covers").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data (with `mumu/`, `discogs-covers/`); skips the test when absent."""
    found = shared_data_dir()
    if found is None:
        pytest.skip("reference data ../shared/data is absent (set HIERGENRE_SHARED to point at it)")
    return found
