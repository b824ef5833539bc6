"""torchvision ResNet-101 (Oramas et al.'s baseline) with ImageNet weights when they can be had.

Weights, in order of preference: `weights_file` (a local state dict: .safetensors, or a torch file
read with `weights_only=True`; a full-classifier dict is fine, `fc.*` is dropped), then
`weights="imagenet"` through torchvision's weights API (downloads on a connected machine, uses
torch's cache when the file is there), else random init: `pretrained=False` and a loud `notice`
that training and the benchmark carry into every output.
Modes: `finetune` trains everything; `frozen` freezes the encoder (features computed once, linear
head: Oramas' protocol).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from hiergenre.errors import CheckpointError, check_choice
from hiergenre.models.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Encoder,
    GenreModel,
    pretrained_flat_model,
)
from hiergenre.models.registry import register_model
from hiergenre.taxonomy import LabelSpace, Taxonomy

logger = logging.getLogger(__name__)


# A failed fetch of the ImageNet weights, once per process: torchvision prints `Downloading: ...`
# before each try, and offline every try fails the same way, so later models do not try again.
_FETCH_FAILED: dict[str, str] = {}


def _offline_notice(error: str) -> str:
    return (
        "ResNet-101 ran WITHOUT ImageNet weights (random init): torchvision could not "
        f"fetch them ({error}); pass weights_file=PATH (--weights) to fix"
    )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or torch.load(weights_only=True); CheckpointError if bad."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist: check the `weights` path")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # safetensors and pickle raise many kinds
        raise CheckpointError(f"cannot read weights {path}: {err}") from err
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no state dict: save model.state_dict()")
    return state


class ResNet101Encoder(Encoder):
    """ResNet-101 without its classifier: x (B, 3, S, S) ImageNet-normalised -> (B, 2048)."""

    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self, weights: str = "imagenet", weights_file: str | None = None):
        super().__init__()
        # lazy: heavy: torchvision's model zoo is imported only for ResNet-101
        from torchvision.models import resnet101

        self.net = resnet101(weights=None)
        self.net.fc = nn.Identity()
        self.feature_dim = 2048
        self.pretrained, self.notice = self._load(weights, weights_file)

    def _load(self, weights: str, weights_file: str | None) -> tuple[bool, str | None]:
        if weights_file:
            state = {
                k: v for k, v in read_state_dict(weights_file).items() if not k.startswith("fc.")
            }
            try:
                self.net.load_state_dict(state)
            except RuntimeError as err:
                detail = str(err).splitlines()[-1].strip()
                raise CheckpointError(
                    f"{weights_file} is not a torchvision ResNet-101 state dict: {detail}"
                ) from err
            return True, None
        if weights == "none":
            return False, None
        if "error" in _FETCH_FAILED:
            return False, _offline_notice(_FETCH_FAILED["error"])
        try:
            # lazy: heavy: torchvision's model zoo is imported only for ResNet-101
            from torchvision.models import ResNet101_Weights

            state = ResNet101_Weights.IMAGENET1K_V2.get_state_dict(progress=False)
        except Exception as err:  # offline: URLError, OSError, hash mismatch...
            _FETCH_FAILED["error"] = type(err).__name__
            return False, _offline_notice(type(err).__name__)
        self.net.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")})
        return True, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) -> (B, 2048)."""
        return self.net(x)


@dataclass(frozen=True)
class ResNet101Config:
    """ResNet-101 + linear head. weights: imagenet | none; mode: finetune | frozen."""

    weights: str = "imagenet"
    weights_file: str | None = None
    mode: str = "finetune"
    output: str = "sigmoid"


@register_model("resnet101")
def resnet101(
    config: ResNet101Config, label_space: LabelSpace | None, taxonomy: Taxonomy
) -> GenreModel:
    """torchvision ResNet-101 encoder with a linear head (Oramas et al.'s baseline)."""
    check_choice("weights", config.weights, ("imagenet", "none"))
    check_choice("mode", config.mode, ("finetune", "frozen"))
    encoder = ResNet101Encoder(config.weights, config.weights_file)
    # Frozen features of a random-init ResNet-101 reach the hundreds: standardise them first.
    probe = config.mode == "frozen"
    return pretrained_flat_model(encoder, config, label_space, taxonomy, probe=probe)
