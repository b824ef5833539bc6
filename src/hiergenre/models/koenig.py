"""The poster's CNNs (PAPER.md) and a tiny conv net registered for tests.

Both poster models were written for 224 px input. To run at any size from 64 px, the last conv
block is followed by adaptive average pooling to the spatial size the 224 px model has there
(224 / 2**6 = 3.5 -> 3x3 for six blocks, 224 / 2**5 = 7x7 for five), so the first fully
connected layer has the same input size, and the same weights, at every resolution; at 224 px
the pooling is the identity.

Channel widths of the multi-label model are not stated on the poster: we use VGG-like
32, 64, 128, 256, 256, 512. Convolutions and fully connected layers that feed a BatchNorm have no
bias (the BatchNorm shift makes it redundant). The single-label model's two 128-unit layers use
the same BatchNorm -> ReLU -> dropout 0.5 block as the multi-label model (the poster gives only
their width). `width` scales every conv channel count and fully connected width: the default
0.25 trains on a laptop CPU, width 1.0 is the poster's model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hiergenre.errors import ConfigError
from hiergenre.models.base import Encoder, GenreModel, flat_model, resolve_space
from hiergenre.models.registry import register_model
from hiergenre.taxonomy import LabelSpace, Taxonomy

REFERENCE_SIZE = 224
# Default channel/width multiplier: a quarter of the poster's CNN trains on a laptop CPU; the
# poster's own model is width=1.0 (`--width 1`).
CPU_WIDTH = 0.25


def conv_block(c_in: int, c_out: int, pool: bool = True) -> nn.Sequential:
    """3x3 conv (stride 1, same) -> BatchNorm -> ReLU -> 2x2 max-pool."""
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def fc_block(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    """Linear -> BatchNorm -> ReLU -> dropout."""
    return nn.Sequential(
        nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), nn.ReLU(), nn.Dropout(dropout)
    )


def scaled(n: int, width: float) -> int:
    return max(1, round(n * width))


class ConvStackEncoder(Encoder):
    """Conv blocks -> adaptive pool to the 224 px grid -> flatten -> fully connected blocks."""

    def __init__(self, channels: tuple[int, ...], fc_units: int, fc_layers: int, dropout: float):
        super().__init__()
        blocks, c_in = [], 3
        for c in channels:
            blocks.append(conv_block(c_in, c))
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        grid = REFERENCE_SIZE // 2 ** len(channels)
        self.pool = nn.AdaptiveAvgPool2d(grid)
        fcs, d_in = [], c_in * grid * grid
        for _ in range(fc_layers):
            fcs.append(fc_block(d_in, fc_units, dropout))
            d_in = fc_units
        self.fc = nn.Sequential(*fcs)
        self.feature_dim = d_in
        self.min_size = 2 ** len(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) with S >= 2**blocks -> (B, feature_dim)."""
        return self.fc(torch.flatten(self.pool(self.blocks(x)), 1))


@dataclass(frozen=True)
class KoenigMultiLabelConfig:
    """The poster's multi-label CNN: 6 conv blocks, 3 x FC 2048, one sigmoid per target node."""

    channels: tuple[int, ...] = (32, 64, 128, 256, 256, 512)
    fc_units: int = 2048
    fc_layers: int = 3
    dropout: float = 0.5
    width: float = CPU_WIDTH
    output: str = "sigmoid"


@dataclass(frozen=True)
class KoenigSingleLabelConfig:
    """The poster's single-label CNN: 5 conv blocks 16 -> 128, 2 x FC 128, 12-way softmax."""

    channels: tuple[int, ...] = (16, 32, 64, 128, 128)
    fc_units: int = 128
    fc_layers: int = 2
    dropout: float = 0.5
    width: float = CPU_WIDTH
    output: str = "softmax"


def _build(config, label_space: LabelSpace) -> GenreModel:
    if not config.width > 0:
        raise ConfigError(f"`width` must be positive (1 = the poster's CNN), got {config.width}")
    channels = tuple(scaled(c, config.width) for c in config.channels)
    encoder = ConvStackEncoder(
        channels, scaled(config.fc_units, config.width), config.fc_layers, config.dropout
    )
    return flat_model(encoder, label_space, config.output, config)


@register_model("koenig-multilabel")
def koenig_multilabel(
    config: KoenigMultiLabelConfig, label_space: LabelSpace | None, taxonomy: Taxonomy
) -> GenreModel:
    """The poster's multi-label model (default label space: every taxonomy node)."""
    return _build(config, resolve_space(label_space, taxonomy, "all"))


@register_model("koenig-singlelabel")
def koenig_singlelabel(
    config: KoenigSingleLabelConfig, label_space: LabelSpace | None, taxonomy: Taxonomy
) -> GenreModel:
    """The poster's single-label model (default label space: the poster's 12 genres)."""
    return _build(config, resolve_space(label_space, taxonomy, "koenig12"))


@dataclass(frozen=True)
class TinyConfig:
    """Two conv layers and a global average pool: for tests. `mean` / `std`: the input
    normalisation it declares (None: raw [0, 1]), so tests cover normalising models cheaply."""

    channels: tuple[int, ...] = (8, 16)
    output: str = "sigmoid"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None


class TinyEncoder(Encoder):
    """conv -> BN -> ReLU -> pool, conv -> BN -> ReLU, global average pool."""

    def __init__(self, channels: tuple[int, ...], mean=None, std=None):
        super().__init__()
        if (mean is None) != (std is None):
            raise ConfigError("tiny: give both mean and std, or neither")
        if mean is not None:
            self.input_mean = tuple(float(v) for v in mean)
            self.input_std = tuple(float(v) for v in std)
        layers, c_in = [], 3
        for i, c in enumerate(channels):
            layers.append(conv_block(c_in, c, pool=i < len(channels) - 1))
            c_in = c
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.feature_dim = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) -> (B, channels[-1])."""
        return self.body(x)


@register_model("tiny")
def tiny(config: TinyConfig, label_space: LabelSpace | None, taxonomy: Taxonomy) -> GenreModel:
    """A two-layer conv net for fast tests."""
    encoder = TinyEncoder(tuple(config.channels), config.mean, config.std)
    return flat_model(encoder, resolve_space(label_space, taxonomy, "all"), config.output, config)
