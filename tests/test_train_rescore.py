"""Self-contained runs: a run records its dataset's absolute path and digest, evaluates from any
working directory, and `--data` on another dataset says what it scores and which genres are new."""

from __future__ import annotations

import json

import pytest
from toycovers import toy_covers

from hiergenre.cli.main import main
from hiergenre.errors import DataError
from hiergenre.train.rescore import evaluate_run


@pytest.fixture(scope="module")
def rel_run(tmp_path_factory):
    """A run trained from `root` with the RELATIVE data path `data`."""
    root = tmp_path_factory.mktemp("rescore")
    toy_covers(root / "data", n=30)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("HIERGENRE_CACHE", str(root / "cache"))
        args = ["train", "flat", "--model", "tiny", "--data", "data", "--image-size", "32",
                "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--quiet",
                "--out", "run"]  # fmt: skip
        assert main(args) == 0
    return root


def test_the_run_records_the_resolved_dataset(rel_run):
    record = json.loads((rel_run / "run" / "run.json").read_text())
    config = json.loads((rel_run / "run" / "config.json").read_text())
    assert record["dataset"]["path"] == str((rel_run / "data").resolve()) == config["data"]["path"]
    assert len(record["dataset"]["digest"]) >= 16
    assert record["preprocess"] == {"size": 32, "resize": "center-crop", "mean": None, "std": None}


def test_evaluate_from_another_folder_reproduces_the_summary(rel_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HIERGENRE_CACHE", str(rel_run / "cache"))
    monkeypatch.chdir(tmp_path)
    test = json.loads((rel_run / "run" / "summary.json").read_text())["test"]
    again = evaluate_run(rel_run / "run")
    assert again["part"] == "test" and again["n_albums"] == test["n_albums"]
    for key in ("auprc_macro", "auroc_micro", "hF", "accuracy"):
        assert again[key] == pytest.approx(test[key], abs=1e-9)


def test_data_on_another_dataset_scores_every_album_and_names_unseen_genres(
    rel_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HIERGENRE_CACHE", str(rel_run / "cache"))
    other = toy_covers(tmp_path / "other", n=9, seed=1,
                       labels={"Bebop": (40, 40, 200), "Thrash & Speed Metal": (200, 40, 40),
                               "Americana": (40, 200, 40)})  # fmt: skip
    result = evaluate_run(rel_run / "run", data=str(other))
    assert result["part"] == "all" and result["n_albums"] == 9
    assert result["unseen_genres"] == ["Americana", "Thrash & Speed Metal"]
    assert "scoring 9 of 9 albums" in result["note"]
    assert main(["evaluate", str(rel_run / "run"), "--data", str(other)]) == 0
    err = capsys.readouterr().err
    assert "scoring 9 of 9 albums" in err and "2 genres never occur" in err


def test_a_changed_or_missing_dataset_is_named(rel_run, tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.setenv("HIERGENRE_CACHE", str(rel_run / "cache"))
    copy = tmp_path / "copy"
    shutil.copytree(rel_run / "run", copy / "run")
    shutil.copytree(rel_run / "data", copy / "data")
    record = json.loads((copy / "run" / "run.json").read_text())
    record["dataset"]["path"] = str(copy / "data")
    (copy / "run" / "run.json").write_text(json.dumps(record))
    manifest = copy / "data" / "manifest.csv"
    manifest.write_text(manifest.read_text().replace("t0-0,", "renamed-0,"))
    with pytest.raises(DataError, match="changed since"):
        evaluate_run(copy / "run")
    shutil.rmtree(copy / "data")
    assert main(["evaluate", str(copy / "run")]) == 2
    assert "is gone" in capsys.readouterr().err


def test_data_holding_the_runs_training_covers_scores_only_the_rest(
    rel_run, tmp_path, monkeypatch, capsys
):
    """The run's covers imported again under other names and ids are found by content: the train
    and dev covers are counted and left out, the test covers and new ones are scored."""
    import shutil

    monkeypatch.setenv("HIERGENRE_CACHE", str(rel_run / "cache"))
    other = toy_covers(tmp_path / "again", n=5, seed=3)
    rows = (rel_run / "data" / "manifest.csv").read_text().splitlines()[1:]
    for row in rows:
        album, image, label = row.split(",")[:3]
        shutil.copy(rel_run / "data" / image, other / "img" / f"copy-{album}.png")
        with open(other / "manifest.csv", "a") as fh:
            fh.write(f"\nagain-{album},img/copy-{album}.png,{label},someone,toy")
    split = json.loads((rel_run / "run" / "split.json").read_text())
    seen = len(split["train"]) + len(split["dev"])
    result = evaluate_run(rel_run / "run", data=str(other))
    assert result["training_covers"] == seen and 0 < seen < len(rows)
    assert result["n_albums"] == len(rows) + 5 - seen
    assert f"{seen} albums" in result["note"] and "--include-train" in result["note"]
    kept = evaluate_run(rel_run / "run", data=str(other), include_train=True)
    assert kept["training_covers"] == seen and kept["n_albums"] == len(rows) + 5
    assert main(["evaluate", str(rel_run / "run"), "--data", str(other), "--include-train"]) == 0
    assert f"{seen} albums" in capsys.readouterr().err


def test_decode_thresholds_chosen_on_dev_travel_with_the_run(rel_run, monkeypatch):
    from hiergenre.data import Split, resolve_dataset
    from hiergenre.evaluate import score_node_probs
    from hiergenre.predictor import run_threshold
    from hiergenre.train import load_run
    from hiergenre.train.rescore import score_rows

    monkeypatch.setenv("HIERGENRE_CACHE", str(rel_run / "cache"))
    run_dir = rel_run / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    steps = summary["decode_thresholds"]
    assert len(steps) == 3 and all(0 < t <= 1 for t in steps)  # levels 2-4 of the MuMu tree
    assert json.loads((run_dir / "best.json").read_text())["decode_thresholds"] == steps
    assert summary["test"]["decode_thresholds"] == summary["dev"]["decode_thresholds"] == steps
    run = load_run(run_dir)
    assert run.model.decode_thresholds == steps == evaluate_run(run_dir)["decode_thresholds"]
    assert run_threshold(run, "threshold", None) == steps  # predict backs off with them
    assert run_threshold(run, "threshold", 0.4) == 0.4
    assert run_threshold(run, "greedy", None) is None
    # on dev (where they were chosen) they score at least the default 0.5 everywhere
    dataset = resolve_dataset(str(rel_run / "data"), run.taxonomy)
    rows = Split.load(run_dir / "split.json").rows(dataset, "dev")
    tuned, probs, kept, _ = score_rows(run, dataset, rows)
    labels = [dataset.label_sets[i] for i in kept]
    plain = score_node_probs(probs, run.label_space, labels, run.taxonomy, "multilabel",
                             classes=run.classes, present=run.scored_nodes)  # fmt: skip
    assert tuned["hF"] == pytest.approx(summary["dev"]["hF"], abs=1e-9)
    assert tuned["hF"] >= plain["hF"] - 1e-12 and plain["decode_thresholds"] == [0.5] * 3


def test_a_split_in_memory_is_trained_on_and_its_test_scores_come_back(tmp_path, monkeypatch):
    """`train_from_config(split=)` trains on (and saves) the caller's split, not the one its
    config would make; the RunResult carries the test part's node probabilities and rows, which
    rescoring the saved run reproduces (what the benchmark takes instead of rescoring)."""
    import numpy as np

    from hiergenre.data import Split, load_dataset, make_split
    from hiergenre.taxonomy import load_taxonomy
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, load_run, train_from_config
    from hiergenre.train.rescore import score_rows

    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    data = toy_covers(tmp_path / "data", n=20)
    taxonomy = load_taxonomy()
    dataset = load_dataset(data, taxonomy)
    split = make_split(dataset, "multilabel", seed=11, taxonomy=taxonomy)
    assert split.test != make_split(dataset, "multilabel", seed=230, taxonomy=taxonomy).test
    config = TrainConfig(model=ModelSpec("tiny"), epochs=1, batch_size=8, device="cpu",
                         data=DataSpec(path=str(data), image_size=32, num_workers=0))  # fmt: skip
    result = train_from_config(config, tmp_path / "run", split=split)
    assert Split.load(tmp_path / "run" / "split.json") == split
    rows = split.rows(dataset, "test")
    np.testing.assert_array_equal(result.test_rows, rows)
    assert result.test_node_probs.shape == (len(rows), taxonomy.num_nodes)
    metrics, nodes, kept, _ = score_rows(load_run(tmp_path / "run"), dataset, rows)
    np.testing.assert_array_equal(kept, result.test_rows)
    np.testing.assert_allclose(result.test_node_probs, nodes, atol=1e-6)
    numbers = {k: v for k, v in result.test.items() if isinstance(v, float) and np.isfinite(v)}
    assert len(numbers) > 10
    assert numbers == pytest.approx({k: metrics[k] for k in numbers}, abs=1e-6)
