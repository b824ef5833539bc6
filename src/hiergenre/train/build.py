"""The pieces `fit` assembles from a TrainConfig: device, optimizer, schedule, loss."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hiergenre import losses
from hiergenre.errors import ConfigError
from hiergenre.models import restrict_taxonomy
from hiergenre.models.base import unwrap
from hiergenre.train.config import AUTO_LOSS, OUTPUT_LOSSES, OptimSpec, TrainConfig
from hiergenre.train.inputs import class_counts
from hiergenre.tree import tree_tensors

log = logging.getLogger(__name__)
Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CB_BETA = 0.999  # Cui et al. 2019, "effective number of samples"


def param_groups(model: nn.Module, spec: OptimSpec) -> list[dict]:
    """Trainable parameters as optimizer groups: a pretrained encoder being fine-tuned learns at
    `lr * encoder_lr_scale`, everything else at `lr`."""
    inner = unwrap(model)
    encoder = getattr(inner, "encoder", None)
    slow: list[nn.Parameter] = []
    if encoder is not None and getattr(inner, "pretrained", None):
        slow = [p for p in encoder.parameters() if p.requires_grad]
    ids = {id(p) for p in slow}
    fast = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": fast, "lr": spec.lr}]
    if slow:
        groups.append({"params": slow, "lr": spec.lr * spec.encoder_lr_scale})
    return [g for g in groups if g["params"]]


def build_optimizer(params, spec: OptimSpec) -> torch.optim.Optimizer:
    """AdamW or SGD (Nesterov momentum) over the trainable parameters (or `param_groups`)."""
    params = list(params)
    if params and not isinstance(params[0], dict):
        params = [{"params": [p for p in params if p.requires_grad], "lr": spec.lr}]
    params = [g for g in params if g["params"]]
    if not params:
        raise ConfigError("the model has no trainable parameter: unfreeze something")
    if spec.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay,
            nesterov=spec.momentum > 0,
        )  # fmt: skip
    return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, spec: OptimSpec, epochs: int):
    """Per-epoch schedule: cosine to zero over the run, step decay, or constant."""
    if spec.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if spec.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, spec.step_size, gamma=spec.gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def resolved_balance(config: TrainConfig, output: str) -> str:
    """`auto` is class-balanced weights for softmax models (the poster's single-label model
    collapsed to its majority class without them) and no reweighting otherwise."""
    if config.balance != "auto":
        return config.balance
    return "class-balanced" if output == "softmax" else "none"


def resolved_loss(config: TrainConfig, output: str) -> str:
    """`auto` is BCE for sigmoid, CE for softmax, and for hierarchical BCE on the chained node
    probabilities (the flat model's objective on a coherent model; on the synthetic set it gave
    a higher dev hierarchical F1 than the conditional loss, see the training notes)."""
    if config.loss == "auto":
        return AUTO_LOSS[output]
    if config.loss not in OUTPUT_LOSSES[output]:
        raise ConfigError(f"loss {config.loss!r} does not fit a {output} model: "
                          f"use {' or '.join(OUTPUT_LOSSES[output])}")  # fmt: skip
    return config.loss


def class_weights(output: str, targets: np.ndarray, size: int, mode: str) -> torch.Tensor | None:
    """Per-class loss weights (size,): positive weights or class-balanced weights, or None."""
    if mode in ("none", "sampler"):
        return None
    pos, neg = class_counts(output, targets, size)
    if mode == "pos-weight":
        return torch.as_tensor(np.clip(neg / np.maximum(pos, 1.0), 1.0, 100.0), dtype=torch.float32)
    effective = (1.0 - np.power(CB_BETA, np.maximum(pos, 1.0))) / (1.0 - CB_BETA)
    w = 1.0 / effective
    present = pos > 0
    w = w / w[present].mean() if present.any() else np.ones(size)
    return torch.as_tensor(
        np.where(present, w, 0.0 if output == "softmax" else 1.0), dtype=torch.float32
    )


def _tree(space):
    """The taxonomy a hierarchical model's logits are over (the label space's sub-forest)."""
    taxonomy = space.taxonomy
    if space.size == taxonomy.num_nodes:
        return taxonomy

    return restrict_taxonomy(taxonomy, [n for n in space.nodes if taxonomy.level(n) == 1])


def build_criterion(
    model: nn.Module, config: TrainConfig, train_targets: np.ndarray, device: torch.device
) -> Criterion:
    """The loss for the model's output: `(logits, targets) -> scalar`."""

    output, space = model.output, model.label_space
    name = resolved_loss(config, output)
    balance = resolved_balance(config, output)
    weights = class_weights(output, train_targets, space.size, balance)
    weights = weights.to(device) if weights is not None else None
    if output == "softmax":
        if config.soft_labels <= 0:
            return lambda logits, y: F.cross_entropy(logits, y, weight=weights)
        classes = torch.as_tensor(space.indices, device=device)
        beta, tax = config.soft_labels, space.taxonomy

        def soft_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            soft = losses.soft_tree_labels(y, tax, beta, classes)
            return F.cross_entropy(logits, soft, weight=weights)

        return soft_ce
    if output == "sigmoid":
        if balance == "pos-weight":
            return lambda logits, y: losses.bce(logits, y, pos_weight=weights)
        return lambda logits, y: F.binary_cross_entropy_with_logits(logits, y, weight=weights)
    tree = _tree(space)
    mode = getattr(unwrap(model).config, "mode", "softmax")
    if name == "conditional":
        return lambda logits, y: losses.hierarchical_conditional_loss(logits, y, tree, mode)
    if name == "mcloss":
        ancestry = tree_tensors(tree, device).ancestry
        return lambda logits, y: losses.mc_loss(logits, y, ancestry)
    inner = unwrap(model)
    return lambda logits, y: F.binary_cross_entropy(
        inner.node_probs(logits).clamp(1e-7, 1 - 1e-7), y
    )
