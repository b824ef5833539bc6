"""`predict_images` and `hiergenre predict`: coherent paths, probabilities, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hiergenre.cli.main import app, main
from hiergenre.data import generate_synthetic
from hiergenre.predict import predict_images
from hiergenre.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A hierarchical model (tiny encoder) trained for one epoch on 40 synthetic covers."""
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    root = tmp_path_factory.mktemp("predict")
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


def test_paths_are_coherent_and_sorted(run):
    images = sorted((run / "data" / "images").glob("*.jpg"))[:3]
    results = predict_images(images, run / "run", top_k=4)
    tax = load_taxonomy()
    assert [r["image"] for r in results] == [str(p) for p in images]
    for item in results:
        assert item["error"] is None and len(item["paths"]) == 4
        firsts = [p["probs"][0] for p in item["paths"]]  # ranked by the level-1 genre's P
        assert firsts == sorted(firsts, reverse=True)
        for p in item["paths"]:
            names = p["path"]
            assert tax.path(names[-1]) == names  # a real root-to-node path
            assert tax.is_leaf(names[-1])  # no threshold: greedy down to a leaf
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
