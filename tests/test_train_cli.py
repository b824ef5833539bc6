"""`hiergenre train ...`: bad options exit 2 with one line; a tiny end-to-end run and resume."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from helpers import covers_dataset

from hiergenre.cli.main import main
from hiergenre.taxonomy import Taxonomy

PARENTS = {
    "Rock": "Music", "Jazz": "Music", "Metal": "Rock", "Punk": "Rock",
    "Bebop": "Jazz", "Swing": "Jazz",
}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["flat", "--epochs", "-1"], "--epochs must be at least 1"),
        (["flat", "--image-size", "7"], "--image-size must be at least 32"),
        (["flat", "--data", "/no/such/dir"], "dataset /no/such/dir does not exist"),
        (["flat", "--model", "resnet-7"], "unknown model 'resnet-7'"),
        (["flat", "--optimizer", "adam"], "unknown optimizer 'adam'"),
        (["flat", "--config", "/no/such.toml"], "config file /no/such.toml does not exist"),
        (["flat", "--resume"], "--resume needs --out"),
        (["flat", "--weights", "/no/w.safetensors", "--model", "resnet101"], "does not exist"),
        (["hierarchical", "--backbone", "vgg"], "unknown backbone 'vgg'"),
        (["hierarchical", "--strategy", "flat"], "unknown strategy 'flat'"),
        (["hierarchical", "--loss", "ce", "--epochs", "1"], "unknown --loss 'ce'"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code = main(["train", *args, "--taxonomy", str(_taxonomy_file(tmp_path)), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def _taxonomy_file(tmp_path):
    path = tmp_path / "genres.tsv"
    if not path.exists():
        Taxonomy.from_parents(PARENTS).save(path)
    return path


@pytest.mark.slow
def test_tiny_run_end_to_end_then_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    tax, data, out = _taxonomy_file(tmp_path), covers_dataset(tmp_path), tmp_path / "run"
    common = ["--taxonomy", str(tax), "--data", str(data), "--image-size", "32",
              "--batch-size", "8", "--quiet", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(["train", "flat", "--model", "tiny", "--epochs", "1", *common]) == 0
    shown = capsys.readouterr().out
    assert "mAUPRC" in shown and "per level" in shown and "{" not in shown  # no raw dicts
    assert len(shown.splitlines()) < 45 and "per label" not in shown
    resume = ["train", "flat", "--model", "tiny", "--epochs", "2", "--resume", "--details"]
    assert main([*resume, *common]) == 0
    assert "per label (test" in capsys.readouterr().out
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["model_name"] == "tiny"
    assert json.loads((out / "split.json").read_text())["mode"] == "multilabel"

    hier = tmp_path / "hier"
    args = ["train", "hierarchical", "--backbone", "tiny", "--epochs", "1", *common[:-1], str(hier)]
    assert main(args) == 0
    summary = json.loads((hier / "summary.json").read_text())
    assert summary["output"] == "hierarchical" and summary["metric"] == "hF"

    from hiergenre.train import load_run

    run = load_run(hier)
    assert run.config.kind == "hierarchical"
    assert run.label_space.size == run.taxonomy.num_nodes == 6


def test_loss_help_and_error_list_the_same_choices(capsys):
    assert main(["train", "hierarchical", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    listed = re.search(r"--loss NAME ([\w|\s]+?) \(default", help_text).group(1)
    assert main(["train", "hierarchical", "--loss", "focal"]) == 2
    err = capsys.readouterr().err
    assert f"choose {listed}" in err and listed.split(" | ") == ["bce", "conditional", "mcloss"]


def _captured_config(monkeypatch, args):
    """The TrainConfig `hiergenre train ...` hands to the library (training not started)."""
    import hiergenre.train

    seen = {}

    def capture(config, *a, **k):
        seen["config"] = config
        raise SystemExit(7)  # stop before any training

    monkeypatch.setattr(hiergenre.train, "train_from_config", capture)
    assert main(["train", *args, "--quiet", "--out", "unused"]) == 7
    return seen["config"]


def test_the_cli_builds_the_librarys_default_models(monkeypatch, tmp_path):
    """`hiergenre train hierarchical` = HierarchicalConfig(); `train flat` = TrainConfig()."""
    from hiergenre.models import get_model
    from hiergenre.models.hierarchical import HierarchicalConfig
    from hiergenre.taxonomy import load_taxonomy
    from hiergenre.train import TrainConfig, build_model

    monkeypatch.chdir(tmp_path)
    flat = _captured_config(monkeypatch, ["flat"])
    assert flat == TrainConfig()
    hier = _captured_config(monkeypatch, ["hierarchical"])
    assert hier.kind == "hierarchical" and hier.model.options == {}
    tax = load_taxonomy()
    from_cli = build_model(hier, tax)
    from_library = get_model("hierarchical", None, tax)
    resolved = dataclasses.replace(HierarchicalConfig(), mode="sigmoid")  # default_mode(False)
    assert from_cli.config == from_library.config == resolved
    assert from_cli.config.mode == "sigmoid" and from_cli.config.encoder == "koenig-multilabel"
    shapes = {k: v.shape for k, v in from_cli.state_dict().items()}
    assert shapes == {k: v.shape for k, v in from_library.state_dict().items()}


def test_train_hierarchical_lite0_trains_what_the_benchmark_measures(monkeypatch, tmp_path):
    """`train hierarchical --encoder lite0` and `train flat --model lite0` build the benchmark's
    lite0 rows: pooled + style features (21,232) and, on the frozen encoder, a softmax per branch;
    the defaults come from the models, not from the benchmark's plans."""
    from hiergenre.benchmark.config import BenchmarkConfig
    from hiergenre.featcache import encoder_identity
    from hiergenre.models import get_model
    from hiergenre.taxonomy import load_taxonomy
    from hiergenre.train import build_model

    monkeypatch.chdir(tmp_path)
    tax = load_taxonomy()
    hier = build_model(_captured_config(monkeypatch, ["hierarchical", "--encoder", "lite0"]), tax)
    flat = build_model(_captured_config(monkeypatch, ["flat", "--model", "lite0"]), tax)
    plan = BenchmarkConfig(data="x").plan("hierarchical-lite0")
    bench = get_model(plan.name, None, tax, **plan.options)
    assert hier.config.mode == bench.config.mode == "softmax" and hier.encoder_frozen
    assert hier.encoder.feature_dim == flat.encoder.feature_dim == 21232
    assert encoder_identity(hier.encoder) == encoder_identity(flat.encoder)
    assert encoder_identity(hier.encoder.inner) == encoder_identity(bench.encoder)


def test_resume_on_a_finished_run_says_so_and_changes_nothing(tiny_run, tmp_path, monkeypatch,
                                                              capsys):  # fmt: skip
    import shutil

    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    shutil.copytree(tiny_run / "run", run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    code = main(["train", "hierarchical", "--out", str(run), "--resume", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "finished" in err and "--overwrite" in err and "--epochs" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_refusing_to_overwrite_a_run_does_not_import_torch(tmp_path):
    """The refusal is one line before any heavy import (torch costs seconds and 800 MB)."""
    from test_cli_main import imported_after

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    got = imported_after(
        "from hiergenre.cli.main import main\n"
        f"code = main(['train', 'flat', '--model', 'tiny', '--out', {str(tmp_path / 'run')!r}])\n"
        "assert code == 2, code"
    )
    assert "torch" not in got["heavy"], got["heavy"]


def test_a_probe_shows_its_branches_l2_grid_and_iterations_not_epochs():
    from hiergenre.cli.train_cmd import _Bars

    start = {"epochs": 8, "start_epoch": 0, "steps": 74, "run_dir": "run", "solver": "lbfgs"}
    probe = {"group": 3, "groups": 5, "stage": "grid", "l2": 1.0, "step": 3, "steps": 6,
             "iteration": 40, "max_iter": 100}  # fmt: skip
    with _Bars(quiet=False) as bars:
        bars.update("start", start)
        bars.update("probe", probe)
        bars.update("probe", {**probe, "stage": "refit", "l2": 0.1, "step": 1, "steps": 1})
        shown = {t.description: (t.completed, t.total, t.fields["status"]) for t in bars.bars.tasks}
    assert shown == {
        "branches": (3, 5, ""),
        "L2 strengths": (1, 1, "L2 0.1, refit on train + dev"),
        "L-BFGS iterations": (40, 100, ""),
    }
    with _Bars(quiet=False) as bars:
        bars.update("start", {**start, "solver": "gradient"})
        bars.update("step", {"epoch": 1, "step": 10, "steps": 74, "loss": 0.5})
        shown = {t.description: (t.completed, t.total) for t in bars.bars.tasks}
    assert shown == {"epochs": (0, 8), "steps": (10, 74)}
