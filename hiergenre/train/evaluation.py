"""Evaluate a model on one split part: probabilities, gathered across processes, then metrics."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from hiergenre.train.devmetrics import dev_metrics
from hiergenre.train.distributed import DistContext, gather_rows
from hiergenre.train.inputs import TrainData
from hiergenre.train.loop import evaluate


def predict_part(
    model, data: TrainData, part: str, ctx: DistContext, device: torch.device, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Label-space probabilities (N, size) and targets of a part, in dataset order.

    Under DDP each rank evaluates rows rank::world and the shards are gathered back in order.
    """
    dataset = data.datasets[part]
    if ctx.enabled:
        dataset = Subset(dataset, range(ctx.rank, len(dataset), ctx.world_size))
    cuda = device.type == "cuda"
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, pin_memory=cuda,
                        num_workers=4 if cuda else 0)  # fmt: skip
    amp = torch.bfloat16 if cuda else None
    probs, targets = evaluate(model, loader, device, amp_dtype=amp, channels_last=cuda)
    if ctx.enabled:
        probs, targets = gather_rows(ctx, [probs, targets])
    return probs, targets


def evaluate_part(
    model, data: TrainData, part: str, ctx: DistContext, device: torch.device, batch_size: int
) -> dict[str, float]:
    """The run's metrics on one part (see `devmetrics.dev_metrics`)."""
    probs, targets = predict_part(model, data, part, ctx, device, batch_size)
    space = model.label_space
    node_targets = data.node_targets.get(part)
    node_probs = space.to_nodes(probs) if node_targets is not None and len(probs) else None
    return dev_metrics(model.output, targets, probs, node_targets, node_probs, space.taxonomy)
