"""GenreModel: an encoder (image -> features) and a head (features -> logits over a label space)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from hiergenre.errors import ConfigError, check_choice
from hiergenre.taxonomy import LabelSpace, Taxonomy, get_label_space

logger = logging.getLogger(__name__)

OUTPUTS = ("sigmoid", "softmax", "hierarchical")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Encoder(nn.Module):
    """Image (B, 3, S, S) -> features (B, feature_dim).

    `input_mean` / `input_std` (3 floats each, or None for raw [0, 1] input) say which
    normalisation the encoder's weights expect; the data transforms read them from the model.
    """

    feature_dim: int
    input_mean: tuple[float, float, float] | None = None
    input_std: tuple[float, float, float] | None = None


class GenreModel(nn.Module):
    """`forward(x) == head(encoder(x))`; `node_probs(logits)`: probabilities in label-space order.

    Attributes: `label_space`, `output` ("sigmoid" | "softmax" | "hierarchical"), `pretrained`
    (None: no pretrained variant; True: loaded; False: wanted weights, ran without), `config`,
    `notice` (a sentence every result carries, e.g. that ImageNet weights were missing),
    `decode_thresholds` (the stop threshold per level from level 2 down that training chose on
    dev for the top-down decode, stored in the checkpoint's metadata; None: 0.5 everywhere).
    """

    def __init__(
        self,
        encoder: Encoder,
        head: nn.Module,
        label_space: LabelSpace,
        output: str,
        config: Any,
        pretrained: bool | None = None,
        notice: str | None = None,
    ):
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"unknown output {output!r}: choose one of {', '.join(OUTPUTS)}")
        self.encoder = encoder
        self.head = head
        self.label_space = label_space
        self.output = output
        self.config = config
        self.pretrained = pretrained
        self.notice = notice
        self.encoder_frozen = False
        self.decode_thresholds: list[float] | None = None
        if notice:
            logger.warning(notice)

    @property
    def input_mean(self) -> tuple[float, float, float] | None:
        return self.encoder.input_mean

    @property
    def input_std(self) -> tuple[float, float, float] | None:
        return self.encoder.input_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) -> logits (B, K)."""
        return self.head(self.encoder(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen fast path: x (B, 3, S, S) -> encoder features (B, D)."""
        return self.encoder(x)

    def node_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (B, K) -> probabilities (B, label_space.size) in label-space order."""
        if self.output == "sigmoid":
            return torch.sigmoid(logits)
        if self.output == "softmax":
            return torch.softmax(logits, dim=-1)
        return self.head.node_probs(logits)

    def freeze_encoder(self) -> GenreModel:
        """Stop gradients into the encoder and keep it in eval mode (BatchNorm statistics fixed)."""
        self.encoder_frozen = True
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()
        return self

    def train(self, mode: bool = True) -> GenreModel:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self


class HeadOnly(nn.Module):
    """The trainable part of a frozen-encoder model: features (B, D) -> logits (B, K).

    Training a frozen encoder's head on cached features wraps the GenreModel in this; `unwrap`
    gives the GenreModel back (its checkpoint, encoder, thresholds and preprocessing)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.label_space = model.label_space
        self.output = model.output

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, D) -> logits (B, K)."""
        return self.model.head(features.float())  # the cache may hold float16

    def node_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return self.model.node_probs(logits)


def unwrap(model: nn.Module) -> nn.Module:
    """The whole model: the GenreModel a `HeadOnly` wraps, else `model` itself."""
    return model.model if isinstance(model, HeadOnly) else model


class LinearHead(nn.Linear):
    """A flat head: features (B, D) -> logits (B, K)."""


class ProbeHead(nn.Module):
    """A linear probe for frozen features: BatchNorm (no affine) then a linear layer.

    Frozen features come at any scale (a random-init ResNet-101's pooled features reach the
    hundreds), which makes a bare linear head train badly; standardising them with batch
    statistics first is the usual linear-probe recipe (He et al., MAE, 2022). (B, D) -> (B, K).
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features, affine=False)
        self.linear = nn.Linear(in_features, out_features)
        # Small weights, as MAE's probe: unit-variance inputs times the default init would start
        # every sigmoid far from its prior and cost the first epochs.
        nn.init.trunc_normal_(self.linear.weight, std=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(features))


def resolve_space(
    label_space: LabelSpace | None, taxonomy: Taxonomy, default: str = "all"
) -> LabelSpace:
    """The given label space, or the model's default one on `taxonomy`."""
    return label_space if label_space is not None else get_label_space(default, taxonomy)


def flat_model(
    encoder: Encoder,
    label_space: LabelSpace,
    output: str,
    config: Any,
    pretrained: bool | None = None,
    notice: str | None = None,
    probe: bool = False,
) -> GenreModel:
    """An encoder with one linear layer to `label_space.size` logits (sigmoid or softmax).

    `probe` puts a feature-standardising BatchNorm before the linear layer (`ProbeHead`), for
    heads trained on a frozen encoder's features.
    """
    check_choice("output", output, ("sigmoid", "softmax"))
    head_class = ProbeHead if probe else LinearHead
    head = head_class(encoder.feature_dim, label_space.size)
    return GenreModel(encoder, head, label_space, output, config, pretrained, notice)


def pretrained_flat_model(
    encoder: Encoder,
    config: Any,
    label_space: LabelSpace | None,
    taxonomy: Taxonomy,
    probe: bool = False,
) -> GenreModel:
    """A flat model on a (possibly) pretrained encoder, frozen when `config.mode == 'frozen'`.

    `config` needs `mode` and `output`; the encoder's `pretrained` flag and `notice` carry over.
    """
    check_choice("mode", config.mode, ("finetune", "frozen"))
    space = resolve_space(label_space, taxonomy)
    model = flat_model(
        encoder, space, config.output, config, encoder.pretrained, encoder.notice, probe=probe
    )
    return model.freeze_encoder() if config.mode == "frozen" else model
