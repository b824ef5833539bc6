"""ONNX export: outputs match PyTorch to 1e-4 under onnxruntime, with a dynamic batch axis."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hiergenre.cli.main import main
from hiergenre.data import generate_synthetic
from hiergenre.taxonomy import load_taxonomy

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    generate_synthetic(root / "data", n=32, size=32, seed=3, taxonomy=load_taxonomy(), workers=1)
    return root


def train(root, name: str, options: dict) -> str:
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    if (root / name / "summary.json").is_file():  # trained by an earlier test of this module
        return str(root / name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIERGENRE_CACHE", str(root / "cache"))
        config = TrainConfig(
            model=ModelSpec(name, "all", options=options),
            data=DataSpec(path=str(root / "data"), image_size=32, num_workers=0),
            epochs=1, batch_size=16, device="cpu",
        )  # fmt: skip
        train_from_config(config, root / name)
    return str(root / name)


@pytest.mark.parametrize(("name", "options"), [("tiny", {}), ("hierarchical", {"encoder": "tiny"})])
def test_onnx_matches_pytorch(data, tmp_path, name, options):
    from hiergenre.export import export_onnx
    from hiergenre.inference import predict_pixels
    from hiergenre.train import load_run

    run_dir = train(data, name, options)
    out = tmp_path / "m.onnx"
    summary = export_onnx(run_dir, out)
    assert summary["max_abs_diff"] <= 1e-4
    run = load_run(run_dir)
    model, space = run.model, run.label_space
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch in (1, 5):  # the batch axis is dynamic
        pixels = rng.integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
        with torch.inference_mode():
            want = model.node_probs(model(run.preprocess.normalize(x))).numpy()
        nodes, probs, _ = session.run(["node_probs", "probs", "logits"], {"image": x.numpy()})
        assert probs.shape == (batch, space.size)
        np.testing.assert_allclose(probs, want, atol=1e-4)
        np.testing.assert_allclose(nodes, predict_pixels(model, run.preprocess, pixels), atol=1e-4)
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["labels"]) == list(space.nodes) and meta["image_size"] == "32"
    assert json.loads(out.with_suffix(".labels.json").read_text())["labels"] == list(space.nodes)
    # the resize filter is named (bicubic moves probabilities by 0.03): the one the loader uses
    from PIL import Image

    from hiergenre.data.images import square_resize

    assert meta["resize_filter"] == "bilinear" and "bilinear" in meta["input"]
    big = Image.fromarray(rng.integers(0, 256, (90, 70, 3), dtype=np.uint8))
    named = getattr(Image.Resampling, meta["resize_filter"].upper())
    square = big.crop((0, 10, 70, 80)).resize((32, 32), named)
    np.testing.assert_array_equal(square_resize(big, 32), np.asarray(square))
    labels = json.loads(out.with_suffix(".labels.json").read_text())
    assert labels["resize_filter"] == "bilinear"


def test_cli_export(data, tmp_path):
    run_dir = train(data, "tiny", {})
    assert main(["export", run_dir, "--onnx", "--out", str(tmp_path / "x.onnx")]) == 0
    assert (tmp_path / "x.onnx").is_file()
    assert main(["export", run_dir]) == 2  # no format chosen
    assert main(["export", run_dir, "--onnx", "--out", str(tmp_path / "x.bin")]) == 2


@pytest.mark.parametrize(("name", "options"), [("tiny", {}), ("hierarchical", {"encoder": "tiny"})])
def test_the_onnx_backend_predicts_what_torch_predicts(data, tmp_path, monkeypatch, name, options):
    """`--backend onnx`: the predictor exports the run once (cached by its weights) and gives the
    torch backend's node probabilities within the export's tolerance, on real cover files."""
    from hiergenre.export import TOLERANCE
    from hiergenre.predictor import load_predictor

    run_dir = train(data, name, options)
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    covers = sorted((data / "data" / "images").glob("*.jpg"))[:7]
    torch_p = load_predictor(run_dir, "cpu")
    onnx_p = load_predictor(run_dir, backend="onnx")
    assert onnx_p.device == "cpu" and "onnx" in repr(onnx_p)
    want, got = torch_p.node_probs(covers, batch_size=3), onnx_p.node_probs(covers, batch_size=3)
    assert got.shape == (7, torch_p.taxonomy.num_nodes)
    assert float(np.abs(got.to_numpy() - want.to_numpy()).max()) <= TOLERANCE
    assert got.to_numpy().max() > 0.01  # real probabilities, not an empty graph
    graphs = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert len(graphs) == 1
    load_predictor(run_dir, backend="onnx")  # a second load reuses the exported graph
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx")) == graphs
    with pytest.raises(Exception, match="backend"):
        load_predictor(run_dir, backend="tensorrt")


def test_cli_predict_with_the_onnx_backend_writes_the_torch_csv(data, tmp_path, monkeypatch):
    import csv

    run_dir = train(data, "tiny", {})
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    folder = str(data / "data" / "images")
    rows = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / f"{backend}.csv"
        argv = ["predict", folder, "--run", run_dir, "--out", str(out), "--quiet"]
        assert main([*argv, "--device", "cpu", "--backend", backend]) == 0
        rows[backend] = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows["torch"]) == 32
    for a, b in zip(rows["torch"], rows["onnx"], strict=True):
        assert (a["path"], a["top_path"]) == (b["path"], b["top_path"])
        assert float(a["score"]) == pytest.approx(float(b["score"]), abs=1e-4)
    assert main(["predict", folder, "--run", run_dir, "--backend", "tensorrt"]) == 2
