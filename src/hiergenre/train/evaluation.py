"""Score a model on one split part with THE metrics function (`evaluate.score_node_probs`).

Each epoch's dev score comes from the data being trained on (cached features for a frozen
encoder, gathered across processes under DDP). The final dev and test scores of `summary.json`
go through `inference.predict_rows` on the part's covers, the path `hiergenre evaluate`, the
benchmark and `predict` use, so they agree with those to float precision.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from hiergenre.evaluate import (
    TASK_OF_OUTPUT,
    choose_thresholds,
    default_classes,
    score_node_probs,
)
from hiergenre.inference import predict_rows, to_node_probabilities
from hiergenre.models.base import unwrap
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


def score(model, data: TrainData, part: str, node_probs: np.ndarray) -> dict:
    """The run's metrics of node probabilities (N, num_nodes) of a part's albums."""
    space = model.label_space
    scoring = data.scoring
    classes = scoring.classes if scoring else default_classes(space)
    present = scoring.present if scoring else None
    thresholds = getattr(unwrap(model), "decode_thresholds", None)
    return score_node_probs(node_probs, space, data.label_sets[part], space.taxonomy,
                            TASK_OF_OUTPUT[model.output], classes=classes,
                            present=present, thresholds=thresholds)  # fmt: skip


def tune_thresholds(
    model, data: TrainData, part: str, ctx: DistContext, device: torch.device, batch_size: int
) -> list[float] | None:
    """The decode's stop threshold per level that maximises hF on a part (the dev part: see
    `evaluate.choose_thresholds`); None for a softmax model (it names one level-1 genre) or an
    empty part. Every process computes the same (the part's rows are gathered)."""
    if model.output == "softmax" or not len(data.datasets[part]):
        return None
    probs, _ = predict_part(model, data, part, ctx, device, batch_size)
    if not np.isfinite(probs).all():
        return None
    nodes = to_node_probabilities(model, torch.as_tensor(probs)).numpy()
    return choose_thresholds(nodes, data.label_sets[part], model.label_space.taxonomy)


def evaluate_part(
    model, data: TrainData, part: str, ctx: DistContext, device: torch.device, batch_size: int
) -> dict:
    """The run's metrics on one part, from the data being trained on (each epoch's dev)."""
    probs, _ = predict_part(model, data, part, ctx, device, batch_size)
    if len(probs) and not np.isfinite(probs).all():
        return {}
    nodes = to_node_probabilities(model, torch.as_tensor(probs)).numpy()
    return score(model, data, part, nodes)


def final_part(
    model, data: TrainData, part: str, ctx: DistContext, device: torch.device, batch_size: int
) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
    """The summary's metrics on one part, with the node probabilities (M, num_nodes) they score
    and those covers' dataset rows (M,): the covers through `inference.predict_rows` (the full
    model, on the main process) when the data came from images, else as `evaluate_part` (no
    probabilities or rows returned)."""
    full = unwrap(model)
    if data.images is None:
        return evaluate_part(model, data, part, ctx, device, batch_size), None, None
    if not ctx.is_main:
        return {}, None, None
    images = data.images
    # the batches `evaluate` uses too (runtime.batch_for), not the training batch size
    nodes, kept, _ = predict_rows(full, images.preprocess, images.store, images.rows[part],
                                  device=device)  # fmt: skip
    if len(kept) != len(images.rows[part]):
        raise RuntimeError("a part's rows changed between training and scoring")
    return score(full, data, part, nodes), nodes, kept
