"""The hierarchical model (the poster's future work 1): a top-level head and one head per branch.

Strategy `shared-heads` (default): any registered model's encoder as a shared backbone and one
`HierarchicalHead` (one batched linear layer, segment softmax or sigmoid, chained down the tree).
Strategy `per-branch-models`: the poster's literal wording, a top-level model plus a separate
specialised model (its own encoder) per level-1 branch; `forward` runs them all. Both output one
logit per node of the tree they were built on and share `node_probs`, so they compare directly.

`top_level="koenig12"` (or a `koenig12` / `level1` label space) restricts the tree to the
branches under those level-1 genres: the model is built on that sub-forest (a `Taxonomy` with the
same root and only those branches; its BFS order is the original order with the other branches
removed), and its label space holds those nodes, in taxonomy order, on the ORIGINAL taxonomy, so
`label_space.to_nodes` places its probabilities correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from hiergenre.errors import ConfigError, check_choice
from hiergenre.models.base import Encoder, GenreModel
from hiergenre.models.heads import MODES, HierarchicalHead, TreeStructure, hierarchical_probs
from hiergenre.models.registry import get_model, register_model
from hiergenre.taxonomy import KOENIG12, LabelSpace, Taxonomy

STRATEGIES = ("shared-heads", "per-branch-models")
LEGACY_STRATEGIES = {"shared": "shared-heads"}  # the name runs made before 0.2 recorded
TOP_LEVELS = ("all", "koenig12")


@dataclass(frozen=True)
class HierarchicalConfig:
    """Shared backbone (or per-branch models) with per-branch heads over a taxonomy."""

    encoder: str = "koenig-multilabel"
    encoder_options: dict[str, Any] = field(default_factory=dict)
    # per-branch softmax or sigmoid; None: `default_mode` (softmax on a frozen encoder)
    mode: str | None = None
    top_level: str = "all"
    strategy: str = "shared-heads"
    branch_encoder: str | None = None
    branch_encoder_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode is not None:
            check_choice("mode", self.mode, MODES)
        check_choice("strategy", LEGACY_STRATEGIES.get(self.strategy, self.strategy), STRATEGIES)
        check_choice("top_level", self.top_level, TOP_LEVELS)


# The per-branch heads' mode when none is given, by whether the encoder is frozen: a softmax per
# branch on a frozen pretrained encoder (its head is a linear probe; the mode the benchmark's
# hierarchical-lite0 measured, benchmarks/results/on-cover2genres/), a sigmoid per child on an
# encoder trained with the head (the poster's CNN: albums with several genres per branch).
DEFAULT_MODE = {True: "softmax", False: "sigmoid"}


def default_mode(frozen: bool) -> str:
    """The per-branch heads' mode when none is given, the one place it is decided (DEFAULT_MODE)."""
    return DEFAULT_MODE[bool(frozen)]


def restrict_taxonomy(taxonomy: Taxonomy, top: list[str]) -> Taxonomy:
    """The sub-forest under the level-1 genres `top` (same root; BFS order kept)."""
    keep = {taxonomy.resolve(t) for t in top}
    bad = [t for t in keep if taxonomy.level(t) != 1]
    if bad:
        raise ConfigError(f"top-level genres must be level-1 nodes, not {', '.join(bad)}")
    parents = {n: taxonomy.parent(n) for n in taxonomy.names if taxonomy.path(n)[0] in keep}
    tree = Taxonomy(taxonomy.root, parents)
    assert list(tree.names) == [n for n in taxonomy.names if n in parents]
    return tree


def _tree_and_space(
    config: HierarchicalConfig, label_space: LabelSpace | None, taxonomy: Taxonomy
) -> tuple[Taxonomy, LabelSpace]:
    check_choice("top_level", config.top_level, TOP_LEVELS)
    top: list[str] | None = None
    if config.top_level == "koenig12":
        top = list(KOENIG12)
    elif label_space is not None and label_space.name != "all":
        top = [n for n in label_space.nodes if taxonomy.level(n) == 1]
        if not top:
            raise ConfigError(
                f"label space {label_space.name!r} has no level-1 genre to start from"
            )
    if top is None:
        return taxonomy, LabelSpace("all", taxonomy, taxonomy.names)
    tree = restrict_taxonomy(taxonomy, top)
    name = "koenig12-tree" if config.top_level == "koenig12" else f"{label_space.name}-tree"
    return tree, LabelSpace(name, taxonomy, tree.names)


def build_encoder(name: str, options: dict[str, Any], taxonomy: Taxonomy) -> GenreModel:
    """A registered model built only for its encoder (its head is discarded by the caller)."""
    if name == "hierarchical":
        raise ConfigError("the hierarchical model cannot be its own encoder: pick e.g. lite0")
    return get_model(name, "level1", taxonomy, **options)


class ConcatEncoder(Encoder):
    """Several encoders on the same image, features concatenated: (B, sum of feature_dims)."""

    def __init__(self, encoders: list[Encoder]):
        super().__init__()
        self.parts = nn.ModuleList(encoders)
        self.feature_dims = [e.feature_dim for e in encoders]
        self.feature_dim = sum(self.feature_dims)
        self.input_mean, self.input_std = encoders[0].input_mean, encoders[0].input_std
        if any((e.input_mean, e.input_std) != (self.input_mean, self.input_std) for e in encoders):
            raise ConfigError("per-branch encoders need the same input normalisation")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, S, S) -> (B, sum of feature_dims)."""
        return torch.cat([e(x) for e in self.parts], dim=1)


class BlockHead(nn.Module):
    """Block-diagonal head: feature block b feeds only the logits of its own nodes.

    logits = cat([linear_b(features_b) for b]) permuted back to taxonomy order, (B, D) -> (B, K).
    """

    def __init__(self, dims: list[int], nodes: list[list[int]], tree: Taxonomy, mode: str):
        super().__init__()
        self.dims = dims
        self.linears = nn.ModuleList(nn.Linear(d, len(n)) for d, n in zip(dims, nodes, strict=True))
        order = torch.tensor([i for block in nodes for i in block], dtype=torch.long)
        if sorted(order.tolist()) != list(range(tree.num_nodes)):
            raise ConfigError("per-branch heads must cover every node exactly once")
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        self.tree = TreeStructure(tree)
        self.mode = mode

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, sum(dims)) -> logits (B, K)."""
        blocks = torch.split(features, self.dims, dim=1)
        return torch.cat([lin(f) for lin, f in zip(self.linears, blocks, strict=True)], dim=1)[
            :, self.inverse
        ]

    def node_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (B, K) -> coherent probabilities (B, K)."""
        return hierarchical_probs(logits, self.tree, self.mode)


class PerBranchModels(GenreModel):
    """A top-level model over the level-1 genres plus one specialised model per level-1 branch."""

    def __init__(self, config: HierarchicalConfig, tree: Taxonomy, space: LabelSpace):
        base_tax = space.taxonomy
        top = build_encoder(config.encoder, config.encoder_options, base_tax)
        level1 = [i for i, lv in enumerate(tree.levels) if lv == 1]
        parts, nodes, names, subs = [top.encoder], [level1], [], [top]
        branch_name = config.branch_encoder or config.encoder
        branch_options = config.branch_encoder_options or config.encoder_options
        for i in level1:
            below = [tree.names.index(n) for n in tree.descendants(tree.names[i])]
            if below:
                sub = build_encoder(branch_name, branch_options, base_tax)
                parts.append(sub.encoder)
                nodes.append(below)
                names.append(tree.names[i])
                subs.append(sub)
        encoder = ConcatEncoder(parts)
        head = BlockHead(encoder.feature_dims, nodes, tree, config.mode)
        pretrained = _combined_pretrained(subs)
        super().__init__(encoder, head, space, "hierarchical", config, pretrained, subs[0].notice)
        self.branch_names = tuple(names)
        if any(s.encoder_frozen for s in subs):
            self.freeze_encoder()


def _combined_pretrained(models: list[GenreModel]) -> bool | None:
    flags = {m.pretrained for m in models}
    return False if False in flags else (True if True in flags else None)


@register_model("hierarchical")
def hierarchical(
    config: HierarchicalConfig, label_space: LabelSpace | None, taxonomy: Taxonomy
) -> GenreModel:
    """Shared encoder + batched per-branch heads (or `per-branch-models`), coherent node probs."""
    strategy = LEGACY_STRATEGIES.get(config.strategy, config.strategy)
    check_choice("strategy", strategy, STRATEGIES)
    tree, space = _tree_and_space(config, label_space, taxonomy)
    if strategy == "per-branch-models":
        if config.mode is None:
            config = replace(config, mode=default_mode(False))
        check_choice("mode", config.mode, MODES)
        return PerBranchModels(config, tree, space)
    base = build_encoder(config.encoder, config.encoder_options, taxonomy)
    if config.mode is None:
        config = replace(config, mode=default_mode(bool(base.encoder_frozen)))
    check_choice("mode", config.mode, MODES)
    head = HierarchicalHead(base.encoder.feature_dim, tree, config.mode)
    model = GenreModel(
        base.encoder, head, space, "hierarchical", config, base.pretrained, base.notice
    )
    return model.freeze_encoder() if base.encoder_frozen else model
