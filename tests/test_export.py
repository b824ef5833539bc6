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
