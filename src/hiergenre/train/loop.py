"""One epoch of training and one pass of evaluation (torchvision references style)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

StepHook = Callable[[int, int, float], None]  # (step, steps, running mean loss)


@dataclass(frozen=True)
class EpochStats:
    """One training epoch: mean loss, images seen, seconds, whether the loss stayed finite."""

    loss: float
    images: int
    seconds: float
    finite: bool


def autocast(device: torch.device, dtype: torch.dtype | None):
    """bf16 autocast on CUDA when asked; a no-op context on CPU."""
    if dtype is None or device.type != "cuda":
        return nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """Move a batch; images (4-D) go channels-last when asked."""
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def train_one_epoch(
    model: nn.Module,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    loader,
    device: torch.device,
    *,
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    log_every: int = 10,
    on_step: StepHook | None = None,
) -> EpochStats:
    """Train for one pass over `loader`; stops early (finite=False) when the loss is not finite.

    The loss is summed on the device and read back every `log_every` steps only, so the loop
    does not wait on the accelerator after each step.
    """
    model.train()
    start = time.perf_counter()
    total = torch.zeros((), device=device, dtype=torch.float64)
    images, steps = 0, len(loader)
    for step, (x, y) in enumerate(loader, 1):
        x, y = to_device(x, device, channels_last), y.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(x)
        loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * x.shape[0]
        images += x.shape[0]
        if step % log_every == 0 or step == steps:
            running = total.item() / max(images, 1)
            if not math.isfinite(running):
                return EpochStats(running, images, time.perf_counter() - start, False)
            if on_step is not None:
                on_step(step, steps, running)
    mean = total.item() / max(images, 1)
    return EpochStats(mean, images, time.perf_counter() - start, math.isfinite(mean))


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader,
    device: torch.device,
    *,
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities over the model's label space (N, size) and the targets, in loader order.

    `model` must offer `node_probs(logits)`. A DDP wrapper is unwrapped: ranks evaluate shards
    of different lengths, and DDP's forward would wait for the others.
    """
    inner = getattr(model, "module", model)
    inner.eval()
    probs, targets = [], []
    for x, y in loader:
        x = to_device(x, device, channels_last)
        with autocast(device, amp_dtype):
            logits = inner(x)
        probs.append(inner.node_probs(logits.float()).float().cpu())
        targets.append(y)
    if not probs:
        return np.zeros((0, 0), np.float32), np.zeros((0,), np.float32)
    return torch.cat(probs).numpy(), torch.cat(targets).numpy()
