"""Forward cost of the hierarchical heads: shared backbone + all heads vs flat vs per-branch-models.

All three run on the shipped 445-node taxonomy (a random 445-node tree when it is absent) with the
same backbone, timed in one run, interleaved, median of `--reps`; each time covers forward + the
node probabilities. Also the heads alone on precomputed features: flat linear + sigmoid, the
batched hierarchical head, and a Python loop over per-branch nn.Linear heads for reference.
Usage: .venv/bin/python benchmarks/bench_heads.py [--backbone lite0] [--size 224] [--batch 16]
Writes benchmarks/results/heads.md (appends one section per run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from hiergenre.models import get_model, hierarchical_probs
from hiergenre.taxonomy import Taxonomy, load_taxonomy

RESULTS = Path(__file__).parent / "results" / "heads.md"


def taxonomy() -> Taxonomy:
    try:
        return load_taxonomy()
    except Exception:  # shipped table missing: a random tree of the same size
        gen = torch.Generator().manual_seed(0)
        parents = {f"g{i}": "Music" for i in range(26)}
        for i in range(26, 445):
            parents[f"g{i}"] = f"g{int(torch.randint(0, i, (1,), generator=gen)) // 2}"
        return Taxonomy.from_parents(parents)


def timed(fn, sync) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


class LoopHeads(nn.Module):
    """The naive alternative: one nn.Linear per branch, a Python loop, a softmax each."""

    def __init__(self, dim: int, tax: Taxonomy):
        super().__init__()
        self.branches = tax.branches
        self.heads = nn.ModuleList(nn.Linear(dim, b.size) for b in self.branches)
        self.parent = torch.as_tensor(tax.parent_index.copy())

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        cond = torch.empty(feats.shape[0], sum(b.size for b in self.branches))
        for b, head in zip(self.branches, self.heads, strict=True):
            cond[:, b.start : b.stop] = torch.softmax(head(feats), dim=1)
        out = cond.clone()
        for i, p in enumerate(self.parent.tolist()):  # parents precede children
            if p >= 0:
                out[:, i] = cond[:, i] * out[:, p]
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backbone", default="lite0")
    parser.add_argument("--branch-backbone", default=None)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    tax = taxonomy()
    extra = {"weights": "none"} if args.backbone in ("lite0", "resnet101") else {}
    models = {
        "flat": get_model(args.backbone, "all", tax, **extra),
        "hierarchical": get_model(
            "hierarchical", None, tax, encoder=args.backbone, encoder_options=extra
        ),
        "per-branch-models": get_model(
            "hierarchical",
            None,
            tax,
            encoder=args.backbone,
            encoder_options=extra,
            strategy="per-branch-models",
            branch_encoder=args.branch_backbone,
        ),
    }
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            model.to(device).eval()
            model.node_probs(model(x))  # warm-up
        for _ in range(args.reps):
            for name, model in models.items():
                times[name].append(timed(lambda m=model: m.node_probs(m(x)), sync))
        head_times = heads_only(models, tax, args.batch, device, sync, args.reps)
    report(args, tax, models, times, head_times, device)


def heads_only(models, tax, batch, device, sync, reps) -> dict[str, float]:
    """Median seconds of the heads alone on (batch, D) features, 50 calls each."""
    dim = models["flat"].encoder.feature_dim
    feats = torch.randn(batch, dim, device=device)
    flat, hier = models["flat"], models["hierarchical"]
    loop = LoopHeads(dim, tax).to(device)
    fns = {
        "flat linear + sigmoid": lambda: flat.node_probs(flat.head(feats)),
        "hierarchical batched": lambda: hierarchical_probs(
            hier.head(feats), hier.head.tree, hier.head.mode
        ),
        "python loop over heads": lambda: loop(feats),
    }
    out = {}
    for name, fn in fns.items():
        fn()
        runs = [timed(lambda f=fn: [f() for _ in range(50)], sync) / 50 for _ in range(reps)]
        out[name] = statistics.median(runs)
    return out


def report(args, tax, models, times, head_times, device) -> None:
    med = {name: statistics.median(t) for name, t in times.items()}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    lines = [
        f"\n## backbone {args.backbone}, {args.size} px, batch {args.batch}, {device.type}"
        f" ({args.threads} CPU thread(s) when on CPU), {args.reps} reps, median",
        f"taxonomy: {tax.num_nodes} nodes, {len(tax.branches)} heads; per-branch-models: "
        f"{len(models['per-branch-models'].branch_names)} branch models "
        f"(branch backbone {args.branch_backbone or args.backbone})",
        "",
        "| model | params | forward + node probs (s) | ratio to flat |",
        "| --- | --- | --- | --- |",
    ]
    for name in models:
        lines.append(
            f"| {name} | {params[name]:,} | {med[name]:.4f} | {med[name] / med['flat']:.3f}x |"
        )
    lines += [
        "",
        "| heads only, (batch, D) features | ms per call | ratio to flat |",
        "| --- | --- | --- |",
    ]
    for name, sec in head_times.items():
        lines.append(
            f"| {name} | {sec * 1e3:.3f} | {sec / head_times['flat linear + sigmoid']:.2f}x |"
        )
    ok = med["hierarchical"] / med["flat"] <= 1.15
    lines.append(f"\nshared heads within 1.15x of flat: {'yes' if ok else 'NO'}")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text("# Forward cost of the hierarchical heads (benchmarks/bench_heads.py)\n")
    with RESULTS.open("a") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
