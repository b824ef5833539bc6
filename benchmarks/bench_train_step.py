"""Train-step overhead: hiergenre's `train_one_epoch` versus a minimal hand-written PyTorch loop.

Both loops train the same model (fresh copies of one initial state) on the same pre-built
batches with the same optimizer and loss; the rounds alternate which loop runs first so
background load hits both alike, and the median images/s of each is compared. Target: the
project's loop at >= 0.95x the hand-written one.

    .venv/bin/python benchmarks/bench_train_step.py                 # CPU, 1 thread
    .venv/bin/python benchmarks/bench_train_step.py --device cuda   # bf16 autocast, channels-last
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from hiergenre.models import get_model
from hiergenre.taxonomy import load_taxonomy
from hiergenre.train.loop import autocast, to_device, train_one_epoch


def hand_loop(model, optimizer, batches, device, amp) -> None:
    """The baseline: the plainest correct loop."""
    model.train()
    for x, y in batches:
        x, y = to_device(x, device, device.type == "cuda"), y.to(device, non_blocking=True)
        with autocast(device, amp):
            logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def project_loop(model, optimizer, batches, device, amp) -> None:
    def criterion(logits, y):
        return F.binary_cross_entropy_with_logits(logits, y)

    train_one_epoch(model, criterion, optimizer, batches, device, amp_dtype=amp,
                    channels_last=device.type == "cuda", log_every=10)  # fmt: skip


def timed(loop, model, batches, device, amp) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    loop(model, optimizer, batches, device, amp)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return sum(len(x) for x, _ in batches) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="koenig-multilabel")
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_step.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    amp = torch.bfloat16 if device.type == "cuda" else None
    taxonomy = load_taxonomy()
    torch.manual_seed(0)
    options = {"width": args.width} if args.model.startswith("koenig") else {}
    base = get_model(args.model, None, taxonomy, **options).to(device)
    if device.type == "cuda":
        base = base.to(memory_format=torch.channels_last)
    k = base.label_space.size
    s, b = args.image_size, args.batch_size
    batches = [(torch.rand(b, 3, s, s), (torch.rand(b, k) < 0.02).float())
               for _ in range(args.batches)]  # fmt: skip
    if device.type == "cuda":
        batches = [(x.pin_memory(), y.pin_memory()) for x, y in batches]
    timed(hand_loop, copy.deepcopy(base), batches[:3], device, amp)  # warm-up
    hand, proj = [], []
    for i in range(args.rounds):  # alternate which loop goes first, so drifts in load cancel
        order = [(hand, hand_loop), (proj, project_loop)]
        for results, loop in order if i % 2 == 0 else order[::-1]:
            results.append(timed(loop, copy.deepcopy(base), batches, device, amp))
    h, p = statistics.median(hand), statistics.median(proj)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {args.threads} thread(s)"
    )
    row = (f"| {args.model} w{args.width} | {s} px | {b} | {name} | {h:,.0f} | {p:,.0f} | "
           f"{p / h:.3f} |")  # fmt: skip
    print(f"hand-written {h:,.1f} img/s, hiergenre {p:,.1f} img/s, ratio {p / h:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        out.write_text(
            "# Train step: hiergenre's `train_one_epoch` vs a hand-written loop\n\n"
            "Command: `.venv/bin/python benchmarks/bench_train_step.py [--device cuda]`; median of "
            "alternating rounds, same model, batches, optimizer and loss. Target ratio >= 0.95.\n\n"
            "| model | size | batch | device | hand img/s | hiergenre img/s | ratio |\n"
            "| --- | --- | --- | --- | --- | --- | --- |\n"
        )
    with open(out, "a") as fh:
        fh.write(row + "\n")


if __name__ == "__main__":
    main()
