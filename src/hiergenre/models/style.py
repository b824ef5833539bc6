"""Style encodings (the poster's future work 3): Gram statistics of an encoder's stages.

For each tapped layer with feature map F (C x H x W):
1. if C > `max_channels`, project channels with a fixed random orthogonal matrix (seeded, a
   buffer) to `max_channels`, so a layer contributes at most 96 * 97 / 2 Gram entries;
2. per channel mean and std over positions, and the upper triangle (diagonal included) of the
   Gram matrix F F^T / (H W) (uncentred, as in Gatys et al.);
3. signed square root, then L2 normalisation of the layer's block; blocks are concatenated and
   scaled by 1 / sqrt(layers) (unit norm overall).
With `with_semantic`, the encoder's pooled features (L2-normalised) are appended. With
`reduce_dim`, a PCA fitted on training features (`fit_reduction`, stored as buffers so it travels
in checkpoints) reduces the vector; until it is fitted, `forward` refuses to run.

Backbones: any registered model's encoder (`backbone`), tapped by module name (`layers`;
defaults below for lite0, resnet101, the poster's CNNs and tiny). VGG-19 conv1_1..conv5_1 needs
ImageNet VGG weights that cannot be had offline, so it is not wired in; EfficientNet-Lite0's
stem and all seven stages play its role.

Which layers: the poster proposed early layers (texture, colour), but on real covers the later
stages' Gram statistics carry most of the gain. On the Discogs covers (5 genres, a softmax probe
on pooled + Gram features, the benchmark's 5 folds; `benchmarks/bench_style_layers_discogs.py`,
results in `benchmarks/results/style_layers_discogs.md`): the stem and stages 0-3 at 64 channels
(the old default) 0.431; every stage at 64 channels 0.448; every stage at 96 channels 0.452,
better in every fold. Hence lite0's default taps every stage, and `max_channels` is 96 (lite0's
pooled + style vector: 21,232 features; 12,120 at 64 channels).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hiergenre.errors import ConfigError, check_choice
from hiergenre.models.base import Encoder, GenreModel, flat_model, resolve_space
from hiergenre.models.registry import get_model, model_config_class, register_model
from hiergenre.taxonomy import LabelSpace, Taxonomy

DEFAULT_LAYERS = {
    "lite0": ("net.bn1",) + tuple(f"net.blocks.{i}" for i in range(7)),
    "resnet101": ("net.relu", "net.layer1", "net.layer2"),
    "koenig-multilabel": ("blocks.0", "blocks.1", "blocks.2", "blocks.3"),
    "koenig-singlelabel": ("blocks.0", "blocks.1", "blocks.2", "blocks.3"),
    "tiny": ("body.0", "body.1"),
}
# The poster's "early layers" of lite0 (its stem and stages 0-3; the default until the Discogs
# ablation above): 5,496 features with the pooled ones at 64 channels, a quarter of the default's
# probe cost. The benchmark's --quick plans use them.
LITE0_EARLY_LAYERS = DEFAULT_LAYERS["lite0"][:5]


class _StopForward(Exception):
    """Raised by the last hook when the rest of the backbone is not needed."""


def signed_sqrt(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.sqrt(x.abs() + 1e-8)


def gram_statistics(fmap: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 2C + C(C+1)/2): channel mean, std, upper triangle of F F^T / (H W)."""
    flat = fmap.flatten(2)
    gram = flat @ flat.transpose(1, 2) / flat.shape[-1]
    c = int(flat.shape[1])
    rows, cols = np.triu_indices(c)  # row-major, as torch.triu_indices; a constant under export
    upper = torch.as_tensor(rows * c + cols, device=fmap.device)
    upper_gram = gram.flatten(1)[:, upper]
    return torch.cat([flat.mean(-1), flat.std(-1, unbiased=False), upper_gram], dim=1)


class StyleEncoder(Encoder):
    """Backbone encoder + hooks -> style vector (B, feature_dim) (see the module docstring)."""

    def __init__(
        self,
        backbone: Encoder,
        layers: tuple[str, ...],
        max_channels: int = 96,
        with_semantic: bool = True,
        reduce_dim: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
        modules = dict(backbone.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing or not layers:
            some = ", ".join(n for n in list(modules)[1:12])
            raise ConfigError(
                f"unknown layer(s) {missing} in the backbone: choose from {some}, ..."
            )
        self.backbone, self.layers, self.with_semantic = backbone, tuple(layers), with_semantic
        self.input_mean, self.input_std = backbone.input_mean, backbone.input_std
        self.native_size = getattr(backbone, "native_size", None)  # lite0: 224
        self._taps: dict[str, torch.Tensor] = {}
        for name in layers:
            modules[name].register_forward_hook(functools.partial(self._record, name))
        channels = self._probe_channels()
        gen = torch.Generator().manual_seed(seed)
        for i, c in enumerate(channels):
            if c > max_channels:  # orthonormal columns: a fixed random rotation-and-drop
                q, _ = torch.linalg.qr(torch.randn(c, max_channels, generator=gen))
                self.register_buffer(f"proj_{i}", q)
            else:
                self.register_buffer(f"proj_{i}", None)
        dims = [min(c, max_channels) for c in channels]
        self.block_dims = [2 * d + d * (d + 1) // 2 for d in dims]  # each layer's columns, in order
        self.raw_dim = sum(self.block_dims)
        self.raw_dim += backbone.feature_dim if with_semantic else 0
        self.reduce_dim = reduce_dim
        self.feature_dim = reduce_dim or self.raw_dim
        if reduce_dim:
            self.register_buffer("pca_mean", torch.zeros(self.raw_dim))
            self.register_buffer("pca_components", torch.zeros(self.raw_dim, reduce_dim))
            self.register_buffer("pca_fitted", torch.zeros((), dtype=torch.bool))

    def _record(self, name: str, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        # a bound method in a partial (not a closure) so copy.deepcopy rebinds it to the copy
        self._taps[name] = output
        if not self.with_semantic and len(self._taps) == len(self.layers):
            raise _StopForward

    @torch.no_grad()
    def _probe_channels(self) -> list[int]:
        was_training = self.backbone.training
        self.backbone.eval()
        taps = self._run(torch.zeros(1, 3, 64, 64))[0]
        self.backbone.train(was_training)
        return [t.shape[1] for t in taps]

    def _run(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        self._taps = {}
        pooled = None
        with contextlib.suppress(_StopForward):
            pooled = self.backbone(x)
        taps, self._taps = [self._taps[n] for n in self.layers], {}
        return taps, pooled

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, S, S) -> unreduced style vector (B, raw_dim)."""
        taps, pooled = self._run(x)
        blocks = []
        for i, fmap in enumerate(taps):
            proj = getattr(self, f"proj_{i}")
            if proj is not None:
                fmap = torch.einsum("bchw,cd->bdhw", fmap, proj)
            blocks.append(nn.functional.normalize(signed_sqrt(gram_statistics(fmap)), dim=1))
        out = torch.cat(blocks, dim=1) / math.sqrt(len(blocks))
        if self.with_semantic:
            out = torch.cat([out, nn.functional.normalize(pooled, dim=1)], dim=1)
        return out

    @torch.no_grad()
    def fit_reduction(self, features: torch.Tensor) -> None:
        """Fit the PCA on training features (N, raw_dim) from `raw_features`; N >= reduce_dim."""
        if not self.reduce_dim:
            raise ConfigError("this style encoder has no reduction: build it with reduce_dim=K")
        if features.shape[0] < self.reduce_dim:
            raise ConfigError(f"PCA to {self.reduce_dim} dims needs as many training images")
        mean = features.mean(0)
        _, _, vh = torch.linalg.svd(features - mean, full_matrices=False)
        self.pca_mean.copy_(mean)
        self.pca_components.copy_(vh[: self.reduce_dim].T)
        self.pca_fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, S, S) -> (B, feature_dim)."""
        out = self.raw_features(x)
        if self.reduce_dim:
            if not bool(self.pca_fitted):
                raise ConfigError("fit the style PCA first: encoder.fit_reduction(train features)")
            out = (out - self.pca_mean) @ self.pca_components
        return out


@dataclass(frozen=True)
class StyleConfig:
    """Gram-statistics style encoder + linear head. mode: frozen (default) | finetune."""

    backbone: str = "lite0"
    backbone_options: dict[str, Any] = field(default_factory=dict)
    layers: tuple[str, ...] | None = None
    max_channels: int = 96
    with_semantic: bool = True
    reduce_dim: int | None = None
    seed: int = 0
    mode: str = "frozen"
    output: str = "sigmoid"


@register_model("style")
def style(config: StyleConfig, label_space: LabelSpace | None, taxonomy: Taxonomy) -> GenreModel:
    """Style (Gram) features of a registered encoder's early layers, with a linear head."""
    check_choice("mode", config.mode, ("frozen", "finetune"))
    if config.backbone in ("style", "hierarchical"):
        raise ConfigError(f"backbone {config.backbone!r} is not an image encoder: pick e.g. lite0")
    layers = config.layers or DEFAULT_LAYERS.get(config.backbone)
    if not layers:
        raise ConfigError(f"give layers=(...) to tap in backbone {config.backbone!r}")
    options = dict(config.backbone_options)
    if "mode" in {f.name for f in dataclasses.fields(model_config_class(config.backbone))}:
        options.setdefault("mode", config.mode)  # the backbone follows the style model's mode
    if "features" in {f.name for f in dataclasses.fields(model_config_class(config.backbone))}:
        options.setdefault("features", "pooled")  # the backbone's plain trunk: the taps are here
    base = get_model(config.backbone, "level1", taxonomy, **options)
    encoder = StyleEncoder(
        base.encoder,
        tuple(layers),
        config.max_channels,
        config.with_semantic,
        config.reduce_dim,
        config.seed,
    )
    space = resolve_space(label_space, taxonomy)
    model = flat_model(encoder, space, config.output, config, base.pretrained, base.notice)
    if config.mode == "frozen":
        model.freeze_encoder()
    return model
