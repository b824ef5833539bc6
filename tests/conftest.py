"""Shared fixtures: one torch thread per test, and the reference data (`shared_data`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


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


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Small convs on a shared 2-core machine run several times faster on one thread.

    Session-wide, so that runs made in session fixtures and in tests use the same thread count
    (float sums differ between thread counts, and resume tests compare runs exactly).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # and the same in the CLI processes tests start
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A hierarchical model (tiny encoder, 32 px) trained for one epoch on 40 synthetic covers.

    Returns the folder holding `run/` (the run directory) and `data/images/*.jpg` (its covers).
    """
    from hiergenre.data import generate_synthetic
    from hiergenre.taxonomy import load_taxonomy
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    root = tmp_path_factory.mktemp("tiny-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIERGENRE_CACHE", str(root / "cache"))
        generate_synthetic(
            root / "data", n=40, size=32, seed=2, taxonomy=load_taxonomy(), workers=1
        )
        config = TrainConfig(
            model=ModelSpec("hierarchical", "all", options={"encoder": "tiny"}),
            data=DataSpec(path=str(root / "data"), image_size=32, num_workers=0),
            epochs=1, batch_size=16, device="cpu",
        )  # fmt: skip
        train_from_config(config, root / "run")
    return root


@pytest.fixture(scope="session")
def audio_base(tmp_path_factory) -> dict:
    """One 0.2 s tone per audio format (MP3, FLAC, M4A, Opus), encoded once per session by ffmpeg
    (skips loudly when ffmpeg is absent)."""
    from audiolib import make_base_audio

    return make_base_audio(tmp_path_factory.mktemp("audio-base"))
