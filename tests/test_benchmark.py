"""`hiergenre benchmark`: option checks, and one tiny end-to-end run (slow)."""

from __future__ import annotations

import csv
import json

import pytest

from hiergenre.benchmark import ALL_NAMES, BenchmarkConfig, ModelPlan, parse_models, run_benchmark
from hiergenre.benchmark import run as benchmark_run
from hiergenre.cli.main import main
from hiergenre.errors import ConfigError
from hiergenre.train.rescore import score_rows


def test_parse_models_keeps_benchmark_order():
    assert parse_models("prior,koenig-singlelabel") == ("koenig-singlelabel", "prior")
    assert parse_models(None) == ALL_NAMES


def test_unknown_model_exits_2_with_the_valid_names(capsys):
    assert (
        main(["benchmark", "--models", "koenig-multilabel,vgg19", "--out", "/nonexistent/x"]) == 2
    )
    err = capsys.readouterr().err
    assert "vgg19" in err and "koenig-singlelabel" in err and "pca-lda-knn" in err
    with pytest.raises(ConfigError):
        parse_models("lite1")


def test_bad_options_exit_2(tmp_path):
    assert main(["benchmark", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert main(["benchmark", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert main(["benchmark", "--weights", str(tmp_path / "no.pth"), "--out", str(tmp_path)]) == 2
    assert main(["benchmark", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2


@pytest.mark.slow
def test_tiny_end_to_end(tmp_path, monkeypatch):
    from hiergenre.data import generate_synthetic
    from hiergenre.taxonomy import load_taxonomy

    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    generate_synthetic(
        tmp_path / "data", n=80, size=32, seed=5, taxonomy=load_taxonomy(), workers=1
    )
    plans = {
        "koenig-singlelabel": ModelPlan("koenig-singlelabel", {"width": 0.25}, "single", 2, 32),
        "koenig-multilabel": ModelPlan("koenig-multilabel", {"width": 0.125}, epochs=1),
        "hierarchical": ModelPlan("hierarchical", {"encoder": "tiny"}, epochs=2, image_size=32),
    }
    models = (*plans, "prior", "majority", "colour-hist-lr", "pca-lda-knn")
    config = BenchmarkConfig(data=str(tmp_path / "data"), models=models, out=str(tmp_path / "out"),
                             plans=plans)  # fmt: skip
    rescored = []

    def spy(run, *args, **kwargs):
        rescored.append(run.config.model.name)
        return score_rows(run, *args, **kwargs)

    monkeypatch.setattr(benchmark_run, "score_rows", spy)
    payload = run_benchmark(config)
    # only the softmax model is scored again: its summary scored the single-label albums only
    assert rescored == ["koenig-singlelabel"]
    out = tmp_path / "out"
    for name in ("results.json", "results.csv", "results.md", "split.json", "pr_curves.png",
                 "confusion_singlelabel.png", "level_accuracy.png"):  # fmt: skip
        assert (out / name).is_file(), name
    saved = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in saved["models"]] == list(config.models)
    by = {m["name"]: m for m in saved["models"]}
    assert by["hierarchical"]["metrics"]["violation_rate"] == 0.0
    for name in plans:  # one speed number per model, measured the same way (warm, batch kept)
        speed = by[name]["speed"]
        assert speed["images_per_s"] == by[name]["images_per_s"] > 0
        assert speed["batch_size"] == 64 and speed["covers"] == min(64, len(by[name]["test_rows"]))
    assert by["koenig-multilabel"]["metrics"]["violation_rate"] is not None
    for name in ("koenig-multilabel", "hierarchical"):  # one truth: the run's own test scores
        summary = json.loads((out / "runs" / name / "summary.json").read_text())
        assert by[name]["metrics"] == summary["test"]
    tests = {name: by[name]["test_rows"] for name in plans}  # a softmax row too: every album
    assert tests["koenig-singlelabel"] == tests["koenig-multilabel"] == tests["hierarchical"]
    majority = by["majority"]["metrics"]
    present = sum(1 for row in majority["confusion"] if sum(row))
    assert majority["balanced_accuracy"] == pytest.approx(1 / present)  # one class predicted
    assert by["prior"]["metrics"]["auroc_macro"] == pytest.approx(0.5)
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert rows[0]["poster_accuracy"] == "0.247"
    md = (out / "results.md").read_text()
    assert "(0.899)" in md and "MACRO AUC-ROC over 250 labels" in md
    assert payload["setting"]["classes_name"] in ("koenig12", "level1-present")
    # every model's run directory is loadable again by evaluate
    assert main(["evaluate", str(out / "runs" / "hierarchical"), "--json"]) == 0


def test_no_plots_announces_no_plots(tmp_path, monkeypatch, capsys):
    """`--no-plots` writes no PNG and the closing line does not promise any; without it, both."""
    from hiergenre.data import generate_synthetic
    from hiergenre.taxonomy import load_taxonomy

    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    generate_synthetic(data, n=60, size=32, seed=1, taxonomy=load_taxonomy(), workers=1)
    for flag, out in (("--no-plots", tmp_path / "a"), (None, tmp_path / "b")):
        args = ["benchmark", "--data", str(data), "--models", "prior,majority", "-q"]
        assert main([*args, "--out", str(out), *([flag] if flag else [])]) == 0
        said = capsys.readouterr().out
        pngs = sorted(p.name for p in out.glob("*.png"))
        if flag:
            assert pngs == [] and "PNG" not in said and "results.csv." in said
        else:
            assert pngs and "results.csv and PNG plots." in said


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "`epochs` must be at least 1"),
        ({"image_size": 16}, "between 32 and 1024"),
        ({"device": "tpu"}, "unknown `device` 'tpu'"),
    ],  # fmt: skip
)
def test_the_config_validates_itself(change, message):
    from hiergenre.benchmark import BenchmarkConfig
    from hiergenre.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        BenchmarkConfig(**change)


def test_a_plans_probe_settings_reach_the_train_config():
    from types import SimpleNamespace

    from hiergenre.benchmark.config import FULL_PLANS, QUICK_PLANS
    from hiergenre.benchmark.run import train_config
    from hiergenre.train.config import TrainConfig

    setting = SimpleNamespace(single_space_name="koenig12", data_path="d", split_path="s.json")
    config = BenchmarkConfig(quick=True)
    quick = train_config(config.plan("style"), setting, config)
    assert quick.l2_grid == QUICK_PLANS["style"].l2_grid and quick.probe_iters < 100
    full = train_config(BenchmarkConfig().plan("style"), setting, BenchmarkConfig())
    assert full.l2_grid == FULL_PLANS["style"].l2_grid != quick.l2_grid
    assert full.probe_iters == TrainConfig().probe_iters == 100


@pytest.mark.parametrize("quick", [False, True])
def test_the_pretrained_rows_share_one_encoder(quick):
    """style, lite0 and hierarchical-lite0 read one cached feature set: --quick's early layers
    at 64 channels (5,496 features), the full plans' every stage at 96 (21,232)."""
    from hiergenre.featcache import encoder_identity
    from hiergenre.models import get_model
    from hiergenre.taxonomy import load_taxonomy

    config = BenchmarkConfig(quick=quick)
    tax = load_taxonomy()
    plans = [config.plan(n) for n in ("style", "lite0", "hierarchical-lite0")]
    encoders = [get_model(p.name, None, tax, **p.options).encoder for p in plans]
    assert len({encoder_identity(e) for e in encoders}) == 1
    assert encoders[0].feature_dim == (5496 if quick else 21232)
