"""No silent loss: a run folder is never overwritten by accident; a split with an empty part is
refused before training, with the minimum dataset size."""

from __future__ import annotations

import json

import pytest
from toycovers import toy_covers

from hiergenre.cli.main import main
from hiergenre.errors import ConfigError, DataError
from hiergenre.train.rundir import check_split, min_albums, prepare_run_dir


def _train_args(data, out, *extra):
    return ["train", "flat", "--model", "tiny", "--data", str(data), "--image-size", "32",
            "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--quiet", "--out", str(out),
            *extra]  # fmt: skip


def test_min_albums_by_hand():
    assert min_albums((0.8, 0.1, 0.1)) == 10 and min_albums((0.6, 0.2, 0.2)) == 5


def test_prepare_run_dir_refuses_clears_and_resumes(tmp_path):
    run = tmp_path / "run"
    prepare_run_dir(run, resume=False, overwrite=False)  # nothing there: fine
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    prepare_run_dir(run, resume=False, overwrite=False)  # a folder without a run: fine
    for name in ("config.json", "summary.json", "model.onnx", "model.labels.json"):
        (run / name).write_text("{}")
    with pytest.raises(ConfigError, match="already holds a run: pass `resume`"):
        prepare_run_dir(run, resume=False, overwrite=False)
    with pytest.raises(ConfigError, match="contradict"):
        prepare_run_dir(run, resume=True, overwrite=True)
    prepare_run_dir(run, resume=True, overwrite=False)  # a run to resume: fine
    prepare_run_dir(run, resume=False, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]  # only the run's files went
    with pytest.raises(ConfigError, match="holds no run to resume"):
        prepare_run_dir(tmp_path / "empty", resume=True, overwrite=False)


def test_train_over_a_run_needs_resume_or_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    data, out = toy_covers(tmp_path / "data", n=20), tmp_path / "run"
    assert main(_train_args(data, out)) == 0
    assert main(["export", str(out), "--onnx"]) == 0
    first = json.loads((out / "summary.json").read_text())
    capsys.readouterr()
    assert main(_train_args(data, out, "--seed", "7")) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text()) == first  # untouched
    assert main(_train_args(data, out, "--seed", "7", "--overwrite")) == 0
    assert not (out / "model.onnx").exists() and not (out / "model.labels.json").exists()
    assert json.loads((out / "config.json").read_text())["seed"] == 7


def test_a_dataset_too_small_to_split_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    data, out = toy_covers(tmp_path / "data", n=5), tmp_path / "run"
    assert main(_train_args(data, out)) == 2
    err = capsys.readouterr().err
    assert "needs at least 10 albums" in err and "5 albums" in err
    assert not (out / "config.json").exists()  # nothing started


def test_check_split_names_the_empty_parts(tmp_path):
    from hiergenre.data import Split

    split = Split(("a", "b"), (), (), mode="singlelabel", seed=0)
    with pytest.raises(DataError, match=r"dev and test parts empty.*at least 5 single-label"):
        check_split(split, [0, 1])
