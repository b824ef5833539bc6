"""A frozen encoder's head fitted as a linear probe inside `fit` (one "epoch": the convex solve).

`fit` calls `probe_epochs` instead of the gradient epoch loop when the encoder is frozen and the
solver is `lbfgs` (the default for frozen encoders, `--solver auto`). The head's groups follow
the model's output: one softmax over the classes, one sigmoid per node, or the hierarchical
head's branches (each branch's softmax or sigmoid, fitted on the albums carrying its parent), so
a hierarchical probe stays coherent by the chain rule. The fitted weights go into the model's
own head, the run saves `best` / `last` like any other run, and the choice of L2 per group is
recorded in the checkpoint metadata, `metrics.jsonl` and `summary.json` (`head_fit`).
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch
from torch import nn

from hiergenre.models.base import ProbeHead, unwrap
from hiergenre.models.heads import HierarchicalHead
from hiergenre.train.probe import (
    Group,
    ProbeConfig,
    ProbeFit,
    branch_groups,
    fit_probe,
    flat_groups,
)

log = logging.getLogger(__name__)


def uses_probe(model: nn.Module, solver: str, frozen: bool) -> bool:
    """True when the head is fitted as a probe: a frozen encoder and solver auto | lbfgs, and a
    head the probe knows (a linear layer, the probe head or the shared hierarchical head)."""
    if not frozen or solver == "gradient":
        return False
    return _linear_of(unwrap(model).head) is not None


def _linear_of(head: nn.Module) -> nn.Linear | None:

    if isinstance(head, (HierarchicalHead, ProbeHead)):
        return head.linear
    return head if type(head) is nn.Linear or type(head).__name__ == "LinearHead" else None


def head_groups(model: nn.Module) -> list[Group]:
    """The independent groups of the model's head (see module doc)."""
    model = unwrap(model)
    space = model.label_space
    if model.output != "hierarchical":
        return flat_groups(space.size, model.output)
    pos = {n: i for i, n in enumerate(space.nodes)}
    tax = space.taxonomy
    parents = np.array([pos.get(tax.parent(n), -1) for n in space.nodes])
    return branch_groups(parents, model.head.mode)


def multi_hot(output: str, targets: np.ndarray, size: int) -> np.ndarray:
    """Targets as (N, size) 0/1: class ids one-hot (softmax), multi-hot as they are."""
    if output == "softmax":
        return np.eye(size, dtype=np.float64)[np.asarray(targets, dtype=np.int64)]
    return np.asarray(targets, dtype=np.float64)


@torch.no_grad()
def install(model: nn.Module, fit: ProbeFit) -> None:
    """Copy a fitted probe (weight (K, D), bias (K,) on raw features) into the model's head."""

    head = unwrap(model).head
    linear = _linear_of(head)
    if isinstance(head, ProbeHead):  # its BatchNorm becomes the identity: the probe standardises
        head.norm.running_mean.zero_()
        head.norm.running_var.fill_(1.0 - head.norm.eps)
    linear.weight.copy_(torch.as_tensor(fit.weight, dtype=linear.weight.dtype))
    linear.bias.copy_(torch.as_tensor(fit.bias, dtype=linear.bias.dtype))


@contextlib.contextmanager
def held_out_head(model: nn.Module, fit: ProbeFit):
    """Within the block the model's head is the train-only fit (to score the dev part with:
    after a refit, dev albums are training data); the fitted head is back after it."""
    if not fit.refitted:
        yield model
        return
    install(model, fit.held_out())
    try:
        yield model
    finally:
        install(model, fit)


def fit_head(model: nn.Module, data, config: ProbeConfig, progress=None) -> ProbeFit:
    """Fit the head of `model` (a HeadOnly on cached features) on data's train/dev parts;
    `progress("probe", info)` follows the solver (`probe.fit_probe`)."""
    inner = unwrap(model)
    size = inner.label_space.size
    feats = {p: data.datasets[p].x.numpy() for p in ("train", "dev")}
    targets = {p: multi_hot(inner.output, data.targets[p], size) for p in ("train", "dev")}
    fit = fit_probe(feats, targets, head_groups(inner), config, progress)
    install(inner, fit)
    return fit
