"""`hiergenre predict` and the public prediction API (`hiergenre.load_predictor`) on trained runs:
coherent paths, the model's probabilities, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hiergenre import load_predictor
from hiergenre.cli.main import app, main
from hiergenre.taxonomy import load_taxonomy
from hiergenre.train import OptimSpec


def predicted(images, run_dir, top_k: int = 3) -> list[dict]:
    """The public API's answer per image, in the JSON form `predict --json` prints:
    {"image", "paths", "error"}."""
    predictor = load_predictor(run_dir, device="cpu")
    return [p.to_dict() for p in predictor.predict(images, top_k=top_k)]


@pytest.fixture
def run(tiny_run):
    """The session's tiny hierarchical run (tests/conftest.py): read-only here."""
    return tiny_run


def test_paths_are_coherent_and_sorted(run):
    images = sorted((run / "data" / "images").glob("*.jpg"))[:3]
    results = predicted(images, run / "run", top_k=4)
    tax = load_taxonomy()
    trained = set(json.loads((run / "run" / "run.json").read_text())["trained_nodes"])
    assert [r["image"] for r in results] == [str(p) for p in images]
    for item in results:
        assert item["error"] is None and len(item["paths"]) == 4
        firsts = [p["probs"][0] for p in item["paths"]]  # ranked by the level-1 genre's P
        assert firsts == sorted(firsts, reverse=True)
        for p in item["paths"]:
            names = p["path"]
            assert tax.path(names[-1]) == names  # a real root-to-node path
            # No threshold: greedy down to a leaf of the trained tree (40 covers leave some
            # branches untrained, and which ones depends on the taxonomy's shape).
            assert tax.is_leaf(names[-1]) or not trained & set(tax.children(names[-1]))
            assert all(a >= b for a, b in zip(p["probs"], p["probs"][1:], strict=False))
            assert 0 <= p["probs"][-1] <= p["probs"][0] <= 1 and p["score"] == p["probs"][-1]
        assert len({p["path"][0] for p in item["paths"]}) == 4


def test_broken_cover_gets_an_error_not_a_crash(run, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(good)
    results = predicted([bad, good], run / "run", top_k=2)
    assert results[0]["error"] and results[0]["paths"] == []
    assert results[1]["error"] is None and len(results[1]["paths"]) == 2


def test_cli_json_parses_and_text_prints(run, capsys):
    from typer.testing import CliRunner

    image = str(next((run / "data" / "images").glob("*.jpg")))
    res = CliRunner().invoke(app, ["predict", image, "--run", str(run / "run"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data[0]["image"] == image and len(data[0]["paths"]) == 3
    res = CliRunner().invoke(app, ["predict", image, "--run", str(run / "run"), "--top-k", "2"])
    assert res.exit_code == 0 and " > " in res.output and "1." in res.output


def test_cli_bad_inputs_exit_2(run, tmp_path):
    image = str(next((run / "data" / "images").glob("*.jpg")))
    assert main(["predict", str(tmp_path / "missing.jpg"), "--run", str(run / "run")]) == 2
    assert main(["predict", image, "--run", str(run / "run"), "--top-k", "0"]) == 2
    assert main(["predict", image, "--run", str(tmp_path)]) == 2  # not a run directory


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A tiny flat model trained for 2 epochs on 40 covers of 3 genres (shipped taxonomy)."""
    from toycovers import toy_covers

    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    root = tmp_path_factory.mktemp("toy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIERGENRE_CACHE", str(root / "cache"))
        config = TrainConfig(
            model=ModelSpec("tiny"),
            data=DataSpec(path=str(toy_covers(root / "data")), image_size=32, num_workers=0),
            epochs=2, batch_size=8, device="cpu", optim=OptimSpec(lr=3e-2),
        )  # fmt: skip
        train_from_config(config, root / "run")
    return root


def test_toy_run_trains_on_its_genres_and_prints_the_models_probabilities(toy_run):
    import torch
    from toycovers import TOY_NODES

    from hiergenre.train import load_run

    run = load_run(toy_run / "run")
    assert run.label_space.name == "trained" and run.label_space.nodes == TOY_NODES
    assert run.trained_nodes == TOY_NODES and run.classes.nodes == ("Country", "Jazz", "Metal")
    covers = sorted((toy_run / "data" / "img").glob("*.png"))[:6]
    results = predicted(covers, toy_run / "run", top_k=3)
    for cover, item in zip(covers, results, strict=True):
        with torch.inference_mode():  # the model's own sigmoid outputs, computed here
            x = run.preprocess(run.preprocess.load(cover))
            out = torch.sigmoid(run.model(x))[0].tolist()
            sig = dict(zip(run.label_space.nodes, out, strict=True))
        genres = sorted(("Country", "Jazz", "Metal"), key=lambda g: -sig[g])
        assert [p["path"][0] for p in item["paths"]] == genres  # top path: most probable genre
        for p in item["paths"]:
            assert set(p["path"]) <= set(TOY_NODES)  # no genre without training albums
            want = [min(sig[a] for a in p["path"][: i + 1]) for i in range(len(p["path"]))]
            assert p["probs"] == pytest.approx(want, abs=1e-6)  # printed = the model's (coherent)


def test_label_space_all_keeps_the_old_behaviour(toy_run, tmp_path, monkeypatch):
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, load_run, train_from_config

    monkeypatch.setenv("HIERGENRE_CACHE", str(toy_run / "cache"))
    config = TrainConfig(model=ModelSpec("tiny", "all"),
                         data=DataSpec(path=str(toy_run / "data"), image_size=32, num_workers=0),
                         epochs=1, batch_size=8, device="cpu")  # fmt: skip
    train_from_config(config, tmp_path / "all")
    run = load_run(tmp_path / "all")
    assert run.label_space.size == load_taxonomy().num_nodes
    item = predicted([next((toy_run / "data" / "img").glob("*.png"))], tmp_path / "all")[0]
    assert all(n in run.trained_nodes for p in item["paths"] for n in p["path"])
