"""Frozen-encoder features as the encoder's weights want them: flip-averaged, pooled and/or style.

`FlipAveraged` averages an encoder's features over the cover and its mirror image (a free,
label-preserving test-time augmentation; covers carry text, but the genre of a mirrored cover is
the same). It is part of the model, so training's cached features, evaluation, `predict` and the
ONNX export all compute the same thing.

`feature_encoder` turns a pretrained model's encoder into the encoder of a `--features` choice:
`pooled` (its global-average-pooled features), `style` (Gram statistics of its early layers) or
`pooled+style` (both, concatenated; what the `style` model computes).
"""

from __future__ import annotations

import torch

from hiergenre.errors import ConfigError, check_choice
from hiergenre.models.base import Encoder
from hiergenre.models.style import DEFAULT_LAYERS, StyleEncoder

FEATURES = ("pooled", "style", "pooled+style")


class FlipAveraged(Encoder):
    """(encoder(x) + encoder(x mirrored left-right)) / 2: x (B, 3, S, S) -> (B, feature_dim)."""

    def __init__(self, inner: Encoder):
        super().__init__()
        self.inner = inner
        self.feature_dim = inner.feature_dim
        self.input_mean, self.input_std = inner.input_mean, inner.input_std
        self.native_size = getattr(inner, "native_size", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, S, S) -> mean of the features of x and of x flipped along its width."""
        return (self.inner(x) + self.inner(x.flip(-1))) / 2

    @property
    def reduce_dim(self) -> int | None:
        return getattr(self.inner, "reduce_dim", None)

    @property
    def pca_fitted(self) -> torch.Tensor | bool:
        return getattr(self.inner, "pca_fitted", True)

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        """The inner style encoder's unreduced vector, flip-averaged (for its PCA)."""
        return (self.inner.raw_features(x) + self.inner.raw_features(x.flip(-1))) / 2

    def fit_reduction(self, features: torch.Tensor) -> None:
        """Fit the inner encoder's PCA (see StyleEncoder.fit_reduction)."""
        self.inner.fit_reduction(features)


def encoder_flags(encoder: Encoder) -> tuple[bool | None, str | None]:
    """(pretrained, notice) of an encoder or of the backbone it wraps."""
    inner = getattr(encoder, "backbone", encoder)
    return getattr(inner, "pretrained", None), getattr(inner, "notice", None)


def style_layers(backbone: str, encoder: Encoder) -> tuple[str, ...]:
    """The early layers whose Gram statistics make the style features of a backbone."""

    if backbone in DEFAULT_LAYERS:
        return DEFAULT_LAYERS[backbone]
    info = getattr(getattr(encoder, "net", None), "feature_info", None)
    if info is not None:  # a timm network: its first four feature stages (lite0 taps all seven,
        # measured on real covers; other networks' later stages were not measured)
        return tuple(f"net.{module}" for module in info.module_name()[:4])
    raise ConfigError(f"no style layers known for {backbone!r}: use `features` pooled")


def feature_encoder(
    encoder: Encoder,
    backbone: str,
    features: str,
    layers: tuple[str, ...] | None = None,
    max_channels: int | None = None,
) -> Encoder:
    """The encoder computing the `features` choice on top of a backbone's encoder; `layers` and
    `max_channels` override the style encoder's defaults (`style_layers`, StyleEncoder's)."""

    check_choice("`features`", features, FEATURES)
    if features == "pooled":
        return encoder
    layers = tuple(layers or style_layers(backbone, encoder))
    cap = {} if max_channels is None else {"max_channels": int(max_channels)}
    return StyleEncoder(encoder, layers, with_semantic=features == "pooled+style", **cap)
