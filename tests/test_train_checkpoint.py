"""Checkpoints: round trip without pickle, refusal of foreign ones, corruption, atomic writes."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from helpers import tiny_model, tiny_taxonomy

from hiergenre.errors import CheckpointError
from hiergenre.train import load_checkpoint, save_checkpoint
from hiergenre.train.checkpoint import flatten_optimizer, tensor_digest, unflatten_optimizer


def _trained_optimizer(model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = model(torch.rand(4, 3, 32, 32)).sum()
    loss.backward()
    opt.step()
    return opt


def _meta(model):
    space = model.label_space
    return {"taxonomy_digest": space.taxonomy.digest, "label_space": space.fingerprint(),
            "model_name": "net", "epoch": 2}  # fmt: skip


def test_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    model = tiny_model(tiny_taxonomy())
    opt = _trained_optimizer(model)
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    save_checkpoint(tmp_path / "last", model.state_dict(), _meta(model), opt.state_dict())
    expected = (random.random(), np.random.rand(), torch.rand(1).item())

    ckpt = load_checkpoint(
        tmp_path / "last", model_name="net", label_space=_meta(model)["label_space"]
    )
    for key, value in model.state_dict().items():
        assert torch.equal(ckpt.model_state[key], value)
    other = torch.optim.AdamW(tiny_model(tiny_taxonomy(), seed=3).parameters(), lr=1.0)
    other.load_state_dict(ckpt.optimizer_state())
    a, b = opt.state_dict(), other.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid, state in a["state"].items():
        assert torch.equal(state["exp_avg"], b["state"][pid]["exp_avg"])
        assert float(state["step"]) == float(b["state"][pid]["step"])
    ckpt.restore_rng()
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    sidecar = json.loads((tmp_path / "last.json").read_text())
    assert sidecar["epoch"] == 2 and len(sidecar["file_sha256"]) == 64


def test_optimizer_flattening_is_lossless():
    model = tiny_model(tiny_taxonomy())
    state = _trained_optimizer(model).state_dict()
    tensors, meta = flatten_optimizer(state)
    json.dumps(meta)  # the non-tensor part is plain JSON
    back = unflatten_optimizer(tensors, meta)
    assert back["state"].keys() == state["state"].keys()


@pytest.mark.parametrize(
    ("kwarg", "value", "what"),
    [("taxonomy_digest", "0" * 16, "taxonomy"), ("label_space", "koenig12:x:12", "label space"),
     ("model_name", "resnet101", "model")],
)  # fmt: skip
def test_foreign_checkpoint_is_refused(tmp_path, kwarg, value, what):
    model = tiny_model(tiny_taxonomy())
    save_checkpoint(tmp_path / "best", model.state_dict(), _meta(model))
    with pytest.raises(CheckpointError, match=f"made for {what}"):
        load_checkpoint(tmp_path / "best", **{kwarg: value})


def test_truncated_checkpoint_raises(tmp_path):
    model = tiny_model(tiny_taxonomy())
    path = save_checkpoint(tmp_path / "last", model.state_dict(), _meta(model))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_bit_flip_in_the_tensor_data_raises(tmp_path):
    model = tiny_model(tiny_taxonomy())
    path = save_checkpoint(tmp_path / "last", model.state_dict(), _meta(model))
    blob = bytearray(path.read_bytes())
    blob[-7] ^= 0x10  # inside the last tensor's bytes
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="integrity"):
        load_checkpoint(path)


def test_bit_flip_in_the_header_raises(tmp_path):
    model = tiny_model(tiny_taxonomy())
    path = save_checkpoint(tmp_path / "last", model.state_dict(), _meta(model))
    blob = bytearray(path.read_bytes())
    blob[12] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_changed_digit_in_the_json_metadata_raises(tmp_path):
    model = tiny_model(tiny_taxonomy())
    path = save_checkpoint(tmp_path / "last", model.state_dict(), dict(_meta(model), epoch=3))
    blob = path.read_bytes()
    assert blob.count(b'\\"epoch\\": 3') == 1  # the metadata is JSON inside the JSON header
    path.write_bytes(blob.replace(b'\\"epoch\\": 3', b'\\"epoch\\": 7'))  # still valid JSON
    with pytest.raises(CheckpointError, match="integrity"):
        load_checkpoint(path)


def test_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = tiny_model(tiny_taxonomy())
    save_checkpoint(tmp_path / "last", model.state_dict(), _meta(model))
    before = (tmp_path / "last.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("hiergenre.train.checkpoint.os.replace", boom)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "last", {"w": torch.zeros(3)}, _meta(model))
    assert (tmp_path / "last.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "last.safetensors"]
    load_checkpoint(tmp_path / "last")


def test_missing_checkpoint_and_digest_stability(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing")
    a = {"x": torch.arange(4.0), "y": torch.ones(2, dtype=torch.bfloat16)}
    assert tensor_digest(a) == tensor_digest(dict(reversed(list(a.items()))))
    assert tensor_digest(a) != tensor_digest({"x": torch.arange(4.0), "y": torch.zeros(2)})
