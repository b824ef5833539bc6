"""`predict_images` and `hiergenre predict`: coherent paths, probabilities, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hiergenre.cli.main import app, main
from hiergenre.predict import predict_images
from hiergenre.taxonomy import load_taxonomy
from hiergenre.train import OptimSpec


@pytest.fixture
def run(tiny_run):
    """The session's tiny hierarchical run (tests/conftest.py): read-only here."""
    return tiny_run


def test_paths_are_coherent_and_sorted(run):
    images = sorted((run / "data" / "images").glob("*.jpg"))[:3]
    results = predict_images(images, run / "run", top_k=4)
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
    results = predict_images([bad, good], run / "run", top_k=2)
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


# --- ranking by the model's own probabilities (hand-checked on the 10-node tree) ---------------
def _abc():
    from trees import ABC_PARENTS

    from hiergenre.taxonomy import Taxonomy

    tax = Taxonomy.from_parents(ABC_PARENTS)
    p = {"A": 0.30, "B": 0.60, "C": 0.10, "A1": 0.25, "A2": 0.05, "B1": 0.20, "B2": 0.50,
         "A1a": 0.20, "A1b": 0.05, "B2a": 0.45}  # fmt: skip
    probs = np.array([[p[n] for n in tax.names]], np.float32)
    return tax, probs


def _shown(rows):
    return [(r["path"], [round(x, 6) for x in r["probs"]]) for r in rows]


def test_top_paths_rank_by_the_models_probabilities():
    from hiergenre.predict import top_paths

    tax, probs = _abc()
    (greedy,) = top_paths(probs, tax, 2)
    assert _shown(greedy) == [(["B", "B2", "B2a"], [0.6, 0.5, 0.45]),
                              (["A", "A1", "A1a"], [0.3, 0.25, 0.2])]  # fmt: skip
    assert greedy[0]["score"] == pytest.approx(0.45)
    (cut,) = top_paths(probs, tax, 3, threshold=0.3)  # A1 (.25) < .3: stop at A
    assert _shown(cut) == [(["B", "B2", "B2a"], [0.6, 0.5, 0.45]), (["A"], [0.3]),
                           (["C"], [0.1])]  # fmt: skip
    (half,) = top_paths(probs, tax, 1, decode="threshold")  # 0.5 by default: B2a (.45) < .5
    assert _shown(half) == [(["B", "B2"], [0.6, 0.5])]
    for decoder in ("beam", "min-distance"):  # B1 q=.2/.7, B2a q=.5/.7: both pick B2a
        (rows,) = top_paths(probs, tax, 1, decode=decoder)
        assert _shown(rows) == [(["B", "B2", "B2a"], [0.6, 0.5, 0.45])], decoder


def test_top_paths_never_propose_genres_outside_allowed():
    from hiergenre.errors import ConfigError
    from hiergenre.predict import top_paths

    tax, probs = _abc()
    (rows,) = top_paths(probs, tax, 3, allowed={"A", "A1", "A1a", "C"})
    assert _shown(rows) == [(["A", "A1", "A1a"], [0.3, 0.25, 0.2]), (["C"], [0.1])]
    (rows,) = top_paths(probs, tax, 1, allowed={"B", "B1"})  # B2 not allowed: B1 is the child
    assert _shown(rows) == [(["B", "B1"], [0.6, 0.2])]
    with pytest.raises(ConfigError, match="unknown decoder"):
        top_paths(probs, tax, 1, decode="best")


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
    results = predict_images(covers, toy_run / "run", top_k=3)
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
    item = predict_images([next((toy_run / "data" / "img").glob("*.png"))], tmp_path / "all")[0]
    assert all(n in run.trained_nodes for p in item["paths"] for n in p["path"])


@pytest.mark.parametrize("decode", ["greedy", "beam", "threshold", "min-distance"])
def test_top_paths_on_a_label_space_that_stops_at_level_1(decode):
    """A run trained on top-level genres only (the Discogs covers): every decoder answers the
    level-1 genres, ranked by the model's probabilities."""
    from trees import ABC_PARENTS

    from hiergenre.predict import top_paths
    from hiergenre.taxonomy import Taxonomy

    tax = Taxonomy.from_parents(ABC_PARENTS)
    probs = np.array([[0.6, 0.3, 0.1, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    rows = top_paths(probs, tax, 3, decode=decode, allowed=["A", "B", "C"])[0]
    assert [r["path"] for r in rows] == [["A"], ["B"], ["C"]]
    assert [r["score"] for r in rows] == pytest.approx([0.6, 0.3, 0.1])
