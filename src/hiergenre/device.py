"""The one device resolver: `auto`, `cpu` or `cuda` to the torch device a run uses."""

from __future__ import annotations

import torch

from hiergenre.errors import ConfigError, check_choice

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` is CUDA when a GPU is visible, else the CPU; under torchrun each process takes its
    local GPU (`local_rank`). Asking for `cuda` without a GPU is a ConfigError."""
    check_choice("`device`", name, DEVICES)
    cuda = torch.cuda.is_available()
    if name == "cuda" and not cuda:
        raise ConfigError("`device` cuda was asked for but no CUDA GPU is visible: use cpu")
    if name == "cpu" or not cuda:
        return torch.device("cpu")
    return torch.device("cuda", local_rank)
