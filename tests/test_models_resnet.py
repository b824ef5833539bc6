"""ResNet-101: weight loading paths and the loud notice when ImageNet weights are missing."""

from __future__ import annotations

import pytest
import torch

from hiergenre.errors import CheckpointError
from hiergenre.models import get_model
from hiergenre.taxonomy import Taxonomy


def tax() -> Taxonomy:
    return Taxonomy.from_parents({"A": "Music", "B": "Music"})


def test_offline_imagenet_gives_notice(monkeypatch):
    from torchvision.models import ResNet101_Weights

    def offline(self, *args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(type(ResNet101_Weights.IMAGENET1K_V2), "get_state_dict", offline)
    monkeypatch.setattr("hiergenre.models.resnet._FETCH_FAILED", {})
    model = get_model("resnet101", None, tax())
    assert model.pretrained is False
    assert model.notice.startswith("ResNet-101 ran WITHOUT ImageNet weights")
    assert "weights_file" in model.notice


def test_offline_fetch_is_tried_once_per_process(monkeypatch, capsys):
    """torchvision prints `Downloading: ...` before each try: offline, the second model of a
    process (a benchmark builds several) does not try, nor print, again."""
    import sys

    from torchvision.models import ResNet101_Weights

    import hiergenre.models.resnet as resnet

    calls = []

    def offline(self, *args, **kwargs):
        calls.append(1)
        sys.stderr.write('Downloading: "https://download.pytorch.org/models/resnet101.pth"\n')
        raise OSError("no network")

    monkeypatch.setattr(type(ResNet101_Weights.IMAGENET1K_V2), "get_state_dict", offline)
    monkeypatch.setattr(resnet, "_FETCH_FAILED", {})
    models = [get_model("resnet101", None, tax()) for _ in range(2)]
    assert len(calls) == 1 and capsys.readouterr().err.count("Downloading") == 1
    assert [m.pretrained for m in models] == [False, False]
    assert models[0].notice == models[1].notice and "OSError" in models[1].notice


@pytest.mark.slow
def test_weights_file_roundtrip_and_frozen(tmp_path):
    from safetensors.torch import save_file

    source = get_model("resnet101", None, tax(), weights="none")
    state = {f"{k}": v.contiguous() for k, v in source.encoder.net.state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 2048)  # a full classifier file is fine
    path = tmp_path / "r101.safetensors"
    save_file(state, str(path))
    model = get_model("resnet101", None, tax(), weights_file=str(path), mode="frozen")
    assert model.pretrained is True and model.notice is None
    assert torch.equal(model.encoder.net.conv1.weight, source.encoder.net.conv1.weight)
    assert model.encoder_frozen and not model.encoder.net.conv1.weight.requires_grad


def test_bad_weights_file(tmp_path):
    bad = tmp_path / "x.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError):
        get_model("resnet101", None, tax(), weights_file=str(bad))
    with pytest.raises(CheckpointError, match="does not exist"):
        get_model("resnet101", None, tax(), weights_file=str(tmp_path / "missing.pt"))


@pytest.mark.slow
def test_forward_64px():
    model = get_model("resnet101", None, tax(), weights="none").eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64))
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()
    # 42,500,160 trunk parameters (torchvision's 44,549,160 minus the 2048x1000 fc) + 2049 * 2
    assert sum(p.numel() for p in model.parameters()) == 42_500_160 + 4098
