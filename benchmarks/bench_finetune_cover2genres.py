"""Issue 19 lever (h): fine-tune lite0's last stages on the sub-genre task, on the benchmark folds.

    python benchmarks/bench_finetune_cover2genres.py DATASET FEATURES.npy OUT.json
        [--folds 0] [--epochs 12] [--first-block 5]

DATASET is the import of ../shared/data/cover2genres, FEATURES the benchmark's cached lite0
features of it (pooled + style, see bench_levers_cover2genres.py). The trunk up to block
`--first-block` (conv stem and blocks 0-4 of timm's efficientnet_lite0: 14x14x112 at 224 px)
stays frozen with its ImageNet weights and its output is computed once per cover and per
orientation (the cover and its mirror image); blocks 5-6, the 1x1 head conv and its batch norm
(statistics kept, weights trained) train with a linear head on the pooled features under the
per-branch softmax loss of the hierarchical model (`losses.hierarchical_conditional_loss`):
AdamW, lr 1e-4 for the network and 1e-3 for the head, batches of 32 with a random flip, early
stopping on the dev loss (patience 3). Scored on the test part (thresholds chosen on dev, as
`train` does):
- `ft-own`: the fine-tuned network with its own head;
- `hier@pooled` / `hier@ft-pooled`: the library's hierarchical probe on the frozen / fine-tuned
  pooled features (1280, L2-normalised, flip-averaged);
- `hier@full` / `hier@ft-full`: the probe on the benchmark's pooled + style features, with the
  pooled part frozen / fine-tuned.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from bench_levers_cover2genres import Setting, branch_loss, probe_probs
from torch import nn

from hiergenre.data.store import ImageStore
from hiergenre.evaluate import choose_thresholds
from hiergenre.inference import preprocess_for
from hiergenre.models.lite0 import Lite0Encoder
from hiergenre.models.registry import get_model

SIZE, POOLED = 224, 1280


def trunk_outputs(net, store, pre, first: int, path: Path) -> np.ndarray:
    """(N, 2, C, H, W) float16: the frozen trunk's output for each cover and its mirror image."""
    if path.is_file():
        return np.load(path, mmap_mode="r")
    out = None
    t0 = time.time()
    with torch.inference_mode():
        for start in range(0, len(store), 32):
            x = pre(np.asarray(store.images[start : start + 32]))
            pair = [net.blocks[:first](net.bn1(net.conv_stem(v))) for v in (x, x.flip(-1))]
            a = torch.stack(pair, 1).half().numpy()
            if out is None:
                out = np.lib.format.open_memmap(path, "w+", np.float16, (len(store), *a.shape[1:]))
            out[start : start + len(a)] = a
            if (start // 32) % 20 == 0:
                print(f"trunk {start + len(a)}/{len(store)} ({time.time() - t0:.0f} s)", flush=True)
    out.flush()
    return np.load(path, mmap_mode="r")


class Tail(nn.Module):
    """Blocks `first`.. of the network, its head conv + norm, average pool: -> (B, 1280)."""

    def __init__(self, net, first: int):
        super().__init__()
        self.blocks = copy.deepcopy(net.blocks[first:])
        self.conv_head, self.bn2 = copy.deepcopy(net.conv_head), copy.deepcopy(net.bn2)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv_head(self.blocks(a))).mean((2, 3))


def keep_bn_statistics(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def pooled_of(tail: Tail, acts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Flip-averaged, L2-normalised pooled features of rows (as the style encoder keeps them)."""
    tail.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(rows), 64):
            a = torch.as_tensor(np.asarray(acts[rows[i : i + 64]]), dtype=torch.float32)
            views = [nn.functional.normalize(tail(a[:, k]), dim=1) for k in (0, 1)]
            out.append(((views[0] + views[1]) / 2).numpy())
    return np.concatenate(out)


def finetune(s: Setting, net, acts, parts, first: int, epochs: int, seed: int = 230):
    """(tail, head) trained on the train part, early-stopped on the dev loss."""
    torch.manual_seed(seed)
    tail, head = Tail(net, first), nn.Linear(POOLED, s.y.shape[1])
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    groups = [{"params": tail.parameters(), "lr": 1e-4}, {"params": head.parameters(), "lr": 1e-3}]
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    loss_fn = branch_loss(s)
    y = torch.as_tensor(s.y)
    gen = torch.Generator().manual_seed(seed)
    drop = nn.Dropout(0.2)

    def logits(rows, flips, train):
        a = torch.as_tensor(np.asarray(acts[rows]), dtype=torch.float32)
        a = a[torch.arange(len(rows)), flips]
        z = tail(a)
        return head(drop(z) if train else z)

    best, best_epoch, state = np.inf, 0, None
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        tail.train()
        keep_bn_statistics(tail)
        order = parts["train"][torch.randperm(len(parts["train"]), generator=gen).numpy()]
        total = 0.0
        for i in range(0, len(order), 32):
            rows = np.sort(order[i : i + 32])
            flips = torch.randint(0, 2, (len(rows),), generator=gen)
            loss = loss_fn(logits(rows, flips, True), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        tail.eval()
        dev_loss = 0.0
        with torch.no_grad():
            for i in range(0, len(parts["dev"]), 64):
                rows = parts["dev"][i : i + 64]
                z = logits(rows, torch.zeros(len(rows), dtype=torch.long), False)
                dev_loss += float(loss_fn(z, y[rows])) * len(rows) / len(parts["dev"])
        print(f"epoch {epoch}: train loss {total / len(order):.4f}, dev loss {dev_loss:.4f} "
              f"({time.time() - t0:.0f} s)", flush=True)  # fmt: skip
        if dev_loss < best:
            best, best_epoch = dev_loss, epoch
            state = copy.deepcopy((tail.state_dict(), head.state_dict()))
        elif epoch - best_epoch >= 3:
            break
    tail.load_state_dict(state[0])
    head.load_state_dict(state[1])
    return tail.eval(), head.eval(), best_epoch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("features")
    ap.add_argument("out")
    ap.add_argument("--folds", default="0")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--first-block", type=int, default=5)
    ap.add_argument("--acts", default="/tmp/hiergenre-ft-acts.npy")
    args = ap.parse_args()
    torch.set_num_threads(2)
    s = Setting(args.data)
    store = ImageStore.open_or_build(s.ds, SIZE)
    enc = Lite0Encoder("package", dropout=0.0)
    assert enc.pretrained, enc.notice
    net = enc.net.eval()
    pre = preprocess_for(get_model("lite0", "all", s.tax), SIZE)
    with torch.inference_mode():  # the split network is the network
        x = pre(np.asarray(store.images[:2]))
        whole = net(x)
        trunk = net.blocks[: args.first_block](net.bn1(net.conv_stem(x)))
        split = Tail(net, args.first_block).eval()(trunk)
        assert torch.allclose(whole, split, atol=1e-4), float((whole - split).abs().max())
    acts = trunk_outputs(net, store, pre, args.first_block, Path(args.acts))
    full = np.asarray(np.load(args.features, mmap_mode="r"), dtype=np.float32)
    every = np.arange(len(s.ds))
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    for fold in (int(f) for f in args.folds.split(",")):
        parts = s.parts(fold)
        t0 = time.time()
        tail, head, epoch = finetune(s, net, acts, parts, args.first_block, args.epochs)
        ft_pooled = pooled_of(tail, acts, every)
        with torch.inference_mode():
            own = {p: s.hier_probs(head(torch.as_tensor(_raw_pooled(tail, acts, parts[p]))).numpy())
                   for p in ("dev", "test")}  # fmt: skip
        ft_full = full.copy()
        ft_full[:, -POOLED:] = ft_pooled
        rows = {
            "ft-own": (own["dev"], own["test"]),
            "hier@pooled": probe_probs(s, full[:, -POOLED:], parts, "hier"),
            "hier@ft-pooled": probe_probs(s, ft_pooled, parts, "hier"),
            "hier@full": probe_probs(s, full, parts, "hier"),
            "hier@ft-full": probe_probs(s, ft_full, parts, "hier"),
        }
        for name, (dev, test) in rows.items():
            thresholds = choose_thresholds(dev, [s.labels[i] for i in parts["dev"]], s.tax)
            row = s.score(test, parts["test"], thresholds)
            row.update(thresholds=thresholds, best_epoch=epoch, seconds=round(time.time() - t0))
            results.setdefault(name, {})[str(fold)] = row
            shown = {k: round(v, 3) for k, v in row.items() if isinstance(v, float)}
            print(f"fold {fold} {name}: {shown}", flush=True)
        out.write_text(json.dumps(results, indent=1))


def _raw_pooled(tail: Tail, acts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The head's input: flip-averaged pooled features, not normalised (as it was trained)."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(rows), 64):
            a = torch.as_tensor(np.asarray(acts[rows[i : i + 64]]), dtype=torch.float32)
            out.append(((tail(a[:, 0]) + tail(a[:, 1])) / 2).numpy())
    return np.concatenate(out)


if __name__ == "__main__":
    main()
