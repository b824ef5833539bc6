"""Faults during and around training: kill -9 and resume, damaged or foreign checkpoints, an
unwritable output, a full disk, a corrupted image cache. Nothing half-written may look complete."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hiergenre import fileio
from hiergenre.train import checkpoint
from hiergenre.train.checkpoint import load_checkpoint

TIMING = ("seconds", "images_per_s")


def _metrics(run: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock fields."""
    lines = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln]
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]


def _summary(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    return {k: summary[k] for k in ("status", "epochs_run", "best_epoch", "dev", "test")}


def _same_run(run: Path, reference: Path) -> None:
    assert _metrics(run) == _metrics(reference)
    assert _summary(run) == _summary(reference)


def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def _leftovers(run: Path) -> list[str]:
    return [p.name for p in run.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.fixture
def run_copy(tmp_path, trained_run) -> Path:
    """A copy of the trained run as a kill after its last checkpoint leaves it: no summary.json
    (a finished run is not resumed at all)."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "summary.json").unlink()
    return run


# --- kill -9 mid-epoch, then --resume --------------------------------------------------------
KILLER = """
import importlib, os, signal, sys
fit = importlib.import_module("hiergenre.train.fit")  # the package re-exports fit(), the function
real, calls = fit.train_one_epoch, []

class KillMidEpoch:
    def __init__(self, loader):
        self.loader = loader
    def __getattr__(self, name):
        return getattr(self.loader, name)
    def __len__(self):
        return len(self.loader)
    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i == 2:  # two optimizer steps into epoch 2
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch

def train_one_epoch(model, criterion, optimizer, loader, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        loader = KillMidEpoch(loader)
    return real(model, criterion, optimizer, loader, *args, **kwargs)

fit.train_one_epoch = train_one_epoch
from hiergenre.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_equals_a_straight_run(cli, tmp_path, synth_set,
                                                            trained_run, train_args):  # fmt: skip
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, "-c", KILLER, *train_args(synth_set, run)],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (run / "summary.json").exists()  # a killed run never looks finished
    assert load_checkpoint(run / "last").meta["epoch"] == 1
    assert not _leftovers(run)
    resumed = cli("train", "flat", "--out", run, "--resume", "--quiet")
    assert resumed.code == 0, resumed.text
    _same_run(run, trained_run)


# --- damaged checkpoints ---------------------------------------------------------------------
def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _stub(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:5])


def _flip_data_bit(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[-7] ^= 0x10  # inside the last tensor's bytes
    path.write_bytes(bytes(blob))


def _flip_header_byte(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[8] ^= 0xFF  # the header JSON's opening brace
    path.write_bytes(bytes(blob))


DAMAGE = {
    "truncated": (_truncate, "corrupt or truncated"),
    "five-bytes": (_stub, "corrupt or truncated"),
    "bit-flip-data": (_flip_data_bit, "failed its integrity check"),
    "bit-flip-header": (_flip_header_byte, "corrupt or truncated"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_last_checkpoint_refuses_resume_and_touches_nothing(cli, run_copy, damage):
    hurt, needle = DAMAGE[damage]
    hurt(run_copy / "last.safetensors")
    before = _snapshot(run_copy)
    cli("train", "flat", "--out", run_copy, "--resume", "--quiet").assert_user_error(needle)
    assert _snapshot(run_copy) == before  # best.* (the previous good checkpoint) untouched
    assert load_checkpoint(run_copy / "best").meta["epoch"] >= 1


@pytest.mark.parametrize("damage", ["truncated", "bit-flip-data"])
def test_damaged_best_checkpoint_refuses_evaluate(cli, run_copy, damage):
    hurt, needle = DAMAGE[damage]
    hurt(run_copy / "best.safetensors")
    before = _snapshot(run_copy)
    cli("evaluate", run_copy).assert_user_error(needle)
    assert _snapshot(run_copy) == before


# --- checkpoints made for another taxonomy or label space ------------------------------------
def test_checkpoint_of_another_label_space_is_refused(cli, tmp_path, synth_set, run_copy,
                                                      train_args):  # fmt: skip
    other = tmp_path / "level1"
    assert cli(*train_args(synth_set, other, 1, "--label-space", "level1")).code == 0
    for suffix in (".safetensors", ".json"):
        shutil.copy(other / f"last{suffix}", run_copy / f"last{suffix}")
        shutil.copy(other / f"best{suffix}", run_copy / f"best{suffix}")
    before = _snapshot(run_copy)
    cli("train", "flat", "--out", run_copy, "--resume", "-q").assert_user_error("label space")
    cli("evaluate", run_copy).assert_user_error("was made for label space")
    assert _snapshot(run_copy) == before


def test_checkpoint_of_another_taxonomy_is_refused(cli, tmp_path, small_taxonomy, run_copy,
                                                   train_args):  # fmt: skip
    small_set, other = tmp_path / "small-set", tmp_path / "small-run"
    made = cli("data", "synth", "--n", "30", "--size", "32", "--out", small_set,
               "--taxonomy", small_taxonomy)  # fmt: skip
    assert made.code == 0, made.text
    trained = cli(*train_args(small_set, other, 1, "--taxonomy", str(small_taxonomy)))
    assert trained.code == 0, trained.text
    for stem in ("best", "last"):
        for suffix in (".safetensors", ".json"):
            shutil.copy(other / f"{stem}{suffix}", run_copy / f"{stem}{suffix}")
    before = _snapshot(run_copy)
    cli("evaluate", run_copy).assert_user_error("was made for taxonomy")
    cli("train", "flat", "--out", run_copy, "--resume", "-q").assert_user_error("taxonomy")
    assert _snapshot(run_copy) == before


# --- an output that cannot be written, a disk that fills --------------------------------------
def _unwritable(tmp_path: Path) -> tuple[Path, str]:
    """A path no file can be created under: a read-only folder, or (as root, where chmod does
    not stop writes) a path under a regular file."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "out", "Permission denied"
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "out", "Not a directory"


def test_unwritable_outputs_give_one_line_and_write_nothing(cli, tmp_path, synth_set,
                                                            train_args):  # fmt: skip
    out, needle = _unwritable(tmp_path)
    cli(*train_args(synth_set, out, 1)).assert_user_error(needle, "check the path")
    cli("data", "synth", "--n", "4", "--size", "32", "--out", out).assert_user_error(needle)
    cli("data", "import", synth_set / "manifest.csv", "--out", out).assert_user_error(needle)
    assert not out.exists()


class _FullDisk:
    """Stands in for the `os` module inside checkpoint.py: the file it opens takes half the bytes
    of a write, then reports ENOSPC, as a filling disk does."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def fdopen(fd, *args, **kwargs):
        fh = os.fdopen(fd, *args, **kwargs)
        real_write = fh.write

        def write(data):
            real_write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        fh.write = write
        return fh


def test_full_disk_during_a_checkpoint_keeps_the_last_good_one(cli, tmp_path, synth_set,
                                                               trained_run, train_args,
                                                               monkeypatch):  # fmt: skip
    real, seen = checkpoint._atomic_write, []

    def atomic_write(path: Path, data: bytes) -> None:
        if path.name == "last.safetensors":
            seen.append(path)
            if len(seen) == 3:  # the run's start, epoch 1, then epoch 2 fails
                monkeypatch.setattr(checkpoint, "os", _FullDisk())
        try:
            real(path, data)
        finally:
            monkeypatch.setattr(checkpoint, "os", os)

    monkeypatch.setattr(checkpoint, "_atomic_write", atomic_write)
    run = tmp_path / "run"
    cli(*train_args(synth_set, run)).assert_user_error("No space left on device")
    assert not (run / "summary.json").exists() and not _leftovers(run)
    assert load_checkpoint(run / "last").meta["epoch"] == 1
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # epoch 2's line went out before its checkpoint failed: tear it too
    (run / "metrics.jsonl").write_text(f"{lines[0]}\n{lines[1][: len(lines[1]) // 2]}")
    monkeypatch.setattr(checkpoint, "_atomic_write", real)
    resumed = cli("train", "flat", "--out", run, "--resume", "--quiet")
    assert resumed.code == 0, resumed.text
    _same_run(run, trained_run)


def test_full_disk_during_import_leaves_no_dataset(cli, tmp_path, synth_set, monkeypatch):
    def full_disk_open(path, mode="r", *args, **kwargs):  # the manifest's temp file fills the disk
        fh = open(path, mode, *args, **kwargs)  # noqa: SIM115 - returned to the caller
        if Path(path).name.startswith(".manifest.csv") and "w" in mode:
            real_write = fh.write

            def write(data):
                real_write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

            fh.write = write
        return fh

    monkeypatch.setattr(fileio, "open", full_disk_open, raising=False)
    out = tmp_path / "ds"
    cli("data", "import", synth_set / "manifest.csv", "--out", out).assert_user_error(
        "No space left on device"
    )
    monkeypatch.delattr(fileio, "open")
    assert not (out / "manifest.csv").exists() and not _leftovers(out)
    cli("data", "stats", out).assert_user_error("no manifest.csv")


# --- a corrupted image cache ------------------------------------------------------------------
def _flip_pixels(stem: Path) -> None:
    arr = np.load(stem.with_suffix(".npy"), mmap_mode="r+")
    arr[3, 5, 5] ^= 0xFF
    arr.flush()


def _truncate_array(stem: Path) -> None:
    _truncate(stem.with_suffix(".npy"))


def _garble_index(stem: Path) -> None:
    stem.with_suffix(".json").write_text('{"version": 1, "digest": ')


def _drop_array(stem: Path) -> None:
    stem.with_suffix(".npy").unlink()


CACHE_DAMAGE = {"pixels": _flip_pixels, "truncated": _truncate_array,
                "index": _garble_index, "array-gone": _drop_array}  # fmt: skip


@pytest.mark.parametrize("damage", sorted(CACHE_DAMAGE))
def test_corrupted_image_store_is_detected_and_rebuilt(tmp_path, synth_set, damage, caplog):
    from hiergenre.data import ImageStore, load_dataset
    from hiergenre.taxonomy import load_taxonomy

    dataset = load_dataset(synth_set, load_taxonomy())
    store = ImageStore.open_or_build(dataset, 32, cache_dir=tmp_path)
    pixels = np.array(store.images)
    stem = store.path.with_suffix("")
    del store
    CACHE_DAMAGE[damage](stem)
    with caplog.at_level("WARNING", logger="hiergenre.data.store"):
        rebuilt = ImageStore.open_or_build(dataset, 32, cache_dir=tmp_path)
    if damage != "array-gone":
        assert "rebuilding" in caplog.text
    assert np.array_equal(np.asarray(rebuilt.images), pixels) and rebuilt.ok.all()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem.name}.json", f"{stem.name}.npy"]


def test_training_after_cache_corruption_matches(cli, tmp_path, synth_set, trained_run,
                                                 train_args, monkeypatch):  # fmt: skip
    cache = tmp_path / "cache"
    monkeypatch.setenv("HIERGENRE_CACHE", str(cache))
    assert cli(*train_args(synth_set, tmp_path / "first", 1)).code == 0
    (stem,) = {p.with_suffix("") for p in (cache / "stores").glob("store-*.npy")}
    _flip_pixels(stem)
    again = cli(*train_args(synth_set, tmp_path / "again", 1))
    assert again.code == 0, again.text
    assert _metrics(tmp_path / "again") == _metrics(tmp_path / "first")
    assert _metrics(tmp_path / "first") == _metrics(trained_run)[:1]


# --- a run directory torn by a crash ----------------------------------------------------------
def test_damaged_config_json_refuses_resume(cli, run_copy):
    (run_copy / "config.json").write_text('{"kind": "flat", "epo')
    cli("train", "flat", "--out", run_copy, "--resume", "-q").assert_user_error(
        "config.json is damaged"
    )
    cli("evaluate", run_copy).assert_user_error("config.json is damaged")


def test_full_disk_while_writing_the_summary_leaves_none(cli, tmp_path, synth_set, train_args,
                                                         monkeypatch):  # fmt: skip
    from hiergenre import fileio

    class Full(io.FileIO):
        """A file on a disk that fills up halfway through the summary."""

        def write(self, data):
            super().write(bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name)

    def full_open(path, mode="r", *args, **kwargs):
        if "summary.json" in Path(path).name and "w" in mode:
            return Full(path, "w")
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(fileio, "open", full_open, raising=False)
    run = tmp_path / "run"
    cli(*train_args(synth_set, run, 1)).assert_user_error("No space left on device")
    assert not (run / "summary.json").exists() and not _leftovers(run)
