"""Any timm model as the encoder: by name, its own preprocessing, weights from a file, a loud
notice without weights, and a tiny architecture trained, evaluated, predicted and exported."""

from __future__ import annotations

import json

import huggingface_hub.constants
import pytest
import torch
from helpers import covers_dataset
from safetensors.torch import save_file
from test_train_cli import _taxonomy_file

from hiergenre.cli.main import main
from hiergenre.errors import CheckpointError, ConfigError
from hiergenre.models import get_model
from hiergenre.models.timm_encoder import TimmEncoder
from hiergenre.taxonomy import Taxonomy


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """No hub, and an empty Hugging Face cache: the weights cannot be had."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_parents({"Rock": "Music", "Jazz": "Music", "Metal": "Rock"})


def test_preprocessing_comes_from_timm_pretrained_config(tax):
    vit = get_model("timm/test_vit", "level1", tax)
    eff = get_model("timm/test_efficientnet", "level1", tax)
    assert vit.input_mean == (0.5, 0.5, 0.5) and vit.input_std == (0.5, 0.5, 0.5)
    assert eff.input_mean == pytest.approx((0.485, 0.456, 0.406))
    assert eff.encoder.native_size == 160
    assert vit.encoder_frozen  # pretrained encoders are frozen by default (linear probes)
    assert vit(torch.rand(2, 3, 160, 160)).shape == (2, 2)


def test_without_weights_a_loud_notice_and_pretrained_false(tax):
    model = get_model("timm/test_resnet", "level1", tax)
    assert model.pretrained is False
    assert "WITHOUT pretrained weights" in model.notice and "--weights" in model.notice
    quiet = get_model("timm/test_resnet", "level1", tax, weights="none")
    assert quiet.notice is None


def test_weights_file_loads_every_tensor_and_drops_the_classifier(tmp_path):
    import timm

    torch.manual_seed(3)
    source = timm.create_model("test_resnet", pretrained=False)  # with its 1000-way classifier
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    enc = TimmEncoder("test_resnet", weights_file=str(path))
    assert enc.pretrained is True and enc.notice is None
    for key, value in enc.net.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key
    other = tmp_path / "other.safetensors"
    save_file({"conv1.weight": torch.zeros(3, 3, 3, 3)}, str(other))
    with pytest.raises(CheckpointError, match="not a state dict of timm/test_resnet"):
        TimmEncoder("test_resnet", weights_file=str(other))


def test_an_unknown_timm_name_is_a_config_error(tax):
    with pytest.raises(ConfigError, match="timm has no model 'resnet_zz'"):
        get_model("timm/resnet_zz", "level1", tax)


@pytest.mark.slow
def test_a_timm_model_trains_evaluates_predicts_and_exports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    taxonomy, data, run = _taxonomy_file(tmp_path), covers_dataset(tmp_path), tmp_path / "run"
    code = main(["train", "flat", "--model", "timm/test_resnet", "--taxonomy", str(taxonomy),
                 "--data", str(data), "--device", "cpu", "--quiet", "--out", str(run)])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "WITHOUT pretrained weights" in printed.out + printed.err
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["image_size"] == 160  # its native size, not the CNNs' 64
    summary = json.loads((run / "summary.json").read_text())
    assert summary["solver"] == "lbfgs" and summary["head_fit"]["chosen_l2"]
    assert summary["pretrained"] is False and "WITHOUT" in summary["notice"]

    assert main(["evaluate", str(run), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    for key, value in summary["test"].items():
        if isinstance(value, float):
            assert scored[key] == pytest.approx(value, abs=1e-6), key

    cover = str(data / "img" / "0.png")
    assert main(["predict", cover, "--run", str(run), "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)[0]["paths"]
    assert paths and paths[0]["path"][0] in ("Rock", "Jazz")

    assert main(["export", str(run), "--onnx"]) == 0
    assert "max |onnxruntime - hiergenre predict|" in " ".join(capsys.readouterr().out.split())
    assert (run / "model.onnx").stat().st_size > 10_000
