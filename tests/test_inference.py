"""One truth per run: `Preprocess`, coherent node probabilities, and the regression test that
summary.json, `evaluate`, `predict` and the exported ONNX model agree for every normalising
model kind."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from trees import ABC_PARENTS

from hiergenre.errors import ConfigError
from hiergenre.inference import NodeProbabilities, Preprocess, predict_pixels, preprocess_for
from hiergenre.taxonomy import LabelSpace, Taxonomy, load_taxonomy


def test_preprocess_normalises_uint8_pixels_by_hand():
    pre = Preprocess(2, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5))
    pixels = np.zeros((2, 2, 3), np.uint8)
    pixels[0, 0] = (255, 255, 0)
    pixels[1, 1] = (51, 51, 51)  # 0.2
    x = pre(pixels)
    assert x.shape == (1, 3, 2, 2) and x.dtype == torch.float32
    assert x[0, :, 0, 0].tolist() == pytest.approx([1.0, 2.0, -1.0])  # (1-.5)/.25 = 2
    assert x[0, :, 1, 1].tolist() == pytest.approx([-0.6, -1.2, -0.6])
    assert torch.equal(Preprocess(2)(pixels)[0, 0], torch.tensor(pixels[..., 0] / 255.0).float())
    assert Preprocess.from_dict(json.loads(json.dumps(pre.to_dict()))) == pre
    with pytest.raises(ConfigError, match="Preprocess.load"):
        pre(np.zeros((3, 3, 3), np.uint8))  # not at the model's size
    with pytest.raises(ConfigError):
        Preprocess(2, mean=(0.5, 0.5, 0.5))


def test_node_probabilities_min_over_ancestors_in_the_space():
    tax = Taxonomy.from_parents(ABC_PARENTS)
    # A flat space without A2 and C: B2a has ancestors B, B2 in the space; A1a has A, A1.
    nodes = ("A", "B", "A1", "B1", "B2", "A1a", "B2a")
    space = LabelSpace("part", tax, nodes)
    label = torch.tensor([[0.3, 0.9, 0.6, 0.2, 0.5, 0.7, 0.8]])
    flat = NodeProbabilities(space, coherent=True)(label)[0]
    want = {"A": 0.3, "B": 0.9, "A1": 0.3, "B1": 0.2, "B2": 0.5, "A1a": 0.3, "B2a": 0.5}
    for name in tax.names:
        assert flat[tax.index(name)].item() == pytest.approx(want.get(name, 0.0)), name
    raw = NodeProbabilities(space, coherent=False)(label)[0]  # hierarchical: scattered as is
    assert raw[tax.index("A1a")].item() == pytest.approx(0.7) and raw[tax.index("C")] == 0


def test_preprocess_for_reads_the_encoder():
    from hiergenre.models import get_model

    tax = load_taxonomy()
    plain = get_model("tiny", "level1", tax)
    normed = get_model("tiny", "level1", tax, mean=(0.1, 0.2, 0.3), std=(1.0, 2.0, 3.0))
    assert preprocess_for(plain, 48) == Preprocess(48)
    assert preprocess_for(normed, 48) == Preprocess(48, "center-crop", (0.1, 0.2, 0.3),
                                                   (1.0, 2.0, 3.0))  # fmt: skip


# --- the regression test: one model, one set of numbers, whichever command asks ----------------
NORM = {"mean": [0.45, 0.5, 0.55], "std": [0.2, 0.25, 0.3]}
CASES = {
    "tiny-normalised": ("tiny", NORM, None),
    "tiny-hierarchical-normalised": ("hierarchical", {"encoder": "tiny", "encoder_options": NORM},
                                     None),
    "lite0": ("lite0", {}, None),
    "style": ("style", {}, None),
    "resnet101": ("resnet101", {"weights": "none"}, True),
    "hierarchical-lite0": ("hierarchical", {"encoder": "lite0"}, None),
    "timm": ("timm", {"model_name": "test_efficientnet", "weights": "none"}, None),
}  # fmt: skip


@pytest.fixture(scope="module")
def covers(tmp_path_factory):
    from hiergenre.data import generate_synthetic

    root = tmp_path_factory.mktemp("truth")
    generate_synthetic(root / "data", n=60, size=48, seed=5, taxonomy=load_taxonomy(), workers=1)
    return root


def _train(root, case: str):
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    name, options, frozen = CASES[case]
    config = TrainConfig(
        model=ModelSpec(name, options=dict(options), frozen=frozen),
        data=DataSpec(path=str(root / "data"), image_size=32, num_workers=0),
        epochs=1, batch_size=16, device="cpu", seed=3,
    )  # fmt: skip
    train_from_config(config, root / case)
    return root / case


def _numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, float) and np.isfinite(v)}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_summary_evaluate_predict_and_onnx_agree(covers, case, monkeypatch):
    from hiergenre import load_predictor
    from hiergenre.data import Split, load_dataset
    from hiergenre.export import export_onnx
    from hiergenre.train import load_run
    from hiergenre.train.rescore import evaluate_run, score_rows

    monkeypatch.setenv("HIERGENRE_CACHE", str(covers / "cache"))
    run_dir = _train(covers, case)
    run = load_run(run_dir)
    assert run.preprocess.mean is not None  # the case really normalises its input
    test = json.loads((run_dir / "summary.json").read_text())["test"]
    again = evaluate_run(run_dir)
    assert len(_numbers(test)) > 20 and _numbers(test).keys() <= _numbers(again).keys()
    for key, value in _numbers(test).items():
        assert again[key] == pytest.approx(value, abs=1e-6), key

    dataset = load_dataset(covers / "data", run.taxonomy)
    rows = Split.load(run_dir / "split.json").rows(dataset, "test")[:2]
    _, nodes, kept, _ = score_rows(run, dataset, rows)
    files = [dataset.root / dataset.manifest["image"][i] for i in kept]
    pixels = np.stack([run.preprocess.load(f) for f in files])
    predicted = predict_pixels(run.model, run.preprocess, pixels)
    np.testing.assert_allclose(predicted, nodes, atol=1e-5)
    shown = load_predictor(run_dir, device="cpu").predict(files, top_k=2)
    for item, row in zip(shown, nodes, strict=True):
        assert item.error is None and len(item.paths) == 2
        for path in item.paths:  # the printed numbers are the evaluated probabilities
            want = [row[run.taxonomy.index(n)] for n in path.names]
            assert list(path.probs) == pytest.approx(want, abs=1e-5)

    ort = pytest.importorskip("onnxruntime")
    export_onnx(run_dir, covers / f"{case}.onnx")
    session = ort.InferenceSession(str(covers / f"{case}.onnx"), providers=["CPUExecutionProvider"])
    rgb = pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # raw RGB in [0, 1]
    (onnx_nodes,) = session.run(["node_probs"], {"image": rgb})
    np.testing.assert_allclose(onnx_nodes, predicted, atol=1e-4)


def test_every_normalising_registered_model_is_covered():
    """A new model kind with its own normalisation must join CASES above."""
    from hiergenre.models import get_model, list_models

    tax = load_taxonomy()
    covered = {spec[0] for spec in CASES.values()}
    light = {"resnet101": {"weights": "none"}, "koenig-multilabel": {"width": 0.1},
             "koenig-singlelabel": {"width": 0.1},
             "timm": {"model_name": "test_efficientnet", "weights": "none"}}  # fmt: skip
    for name in list_models():
        model = get_model(name, "level1", tax, **light.get(name, {}))
        if preprocess_for(model, 32).mean is not None:
            assert name in covered, f"{name} normalises its input: add it to CASES"


def test_cpu_batches_hold_about_a_million_pixels_and_cuda_keeps_64():
    from hiergenre.runtime import batch_for

    assert [batch_for(s) for s in (32, 64, 128, 224, 288, 512)] == [64, 64, 64, 20, 12, 8]
    assert batch_for(224, "cuda") == 64


def test_measure_speed_warms_up_then_times_every_cover_at_a_recorded_batch():
    """One speed number per model: one untimed warm-up batch, then every cover in batches of
    the recorded size (the benchmark's img/s and `evaluate` read it)."""
    from hiergenre.inference import measure_speed
    from hiergenre.models import get_model

    model = get_model("tiny", "level1", load_taxonomy())
    seen: list[int] = []
    model.register_forward_pre_hook(lambda _, args: seen.append(int(args[0].shape[0])))
    pixels = np.zeros((10, 32, 32, 3), np.uint8)
    speed = measure_speed(model, Preprocess(32), pixels, batch_size=4)
    assert seen == [4, 4, 4, 2]  # the warm-up batch, then 10 covers in batches of 4
    assert (speed.batch_size, speed.covers) == (4, 10)
    assert speed.images_per_s == pytest.approx(10 / speed.seconds)
    with pytest.raises(ConfigError, match="at least one cover"):
        measure_speed(model, Preprocess(32), pixels[:0])
