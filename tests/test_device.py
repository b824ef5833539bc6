"""The one device resolver (`hiergenre.device.resolve_device`), used by training, probes and the
predictor alike."""

from __future__ import annotations

import pytest
import torch

from hiergenre.device import resolve_device
from hiergenre.errors import ConfigError


def test_auto_and_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu", local_rank=3) == torch.device("cpu")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_a_gpu_machine_takes_the_local_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cpu") == torch.device("cpu")


def test_an_unknown_device_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown `device` 'tpu': choose one of auto, cpu, cuda"):
        resolve_device("tpu")
