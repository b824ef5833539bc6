"""Issue 19's levers on cover2genres, one at a time, on the benchmark's own 5 group-aware folds.

    python benchmarks/bench_levers_cover2genres.py DATASET --features full=FILE [crops=FILE ...]
        --levers hier@full,flat@full,ens@full,mlp@full,hier@crops ... [--folds 0,1,2,3,4]
        --out OUT.json

DATASET is the import of ../shared/data/cover2genres (see benchmarks/results/on-cover2genres/
ablation.md). FILE is a feature matrix (.npy, one row per album in the dataset's order): `full` is
the benchmark's lite0 cache file (`$HIERGENRE_CACHE/features/albums-<key>-float32.npy`, written
by a `hiergenre benchmark --data DATASET` run), others come from bench_crops_cover2genres.py or
bench_finetune_cover2genres.py. A feature name `a+b` averages two files, `a|b` concatenates them.

Levers (each `LEVER@FEATURES`):
- `prior`: the training albums' genre frequencies (no image);
- `hier`: the library's hierarchical probe (`train.probe.fit_probe`, one softmax per branch,
  L2 chosen on dev, refitted on train + dev), what `hierarchical-lite0` trains;
- `flat`: the library's sigmoid probe over every node (what `style` trains), made coherent
  (a node's probability is at most its parent's);
- `ens`: the mean of `hier` and `flat`'s node probabilities;
- `mlp`: a one-hidden-layer MLP (512 units, GELU, dropout) with the same per-branch softmax
  loss, early-stopped on the dev loss, then refitted on train + dev for that many epochs;
- `ens-mlp`: the mean of `hier` and `mlp`.
Every lever's dev probabilities come from its train-only fit; decode thresholds per level are
chosen on them with `evaluate.choose_thresholds` (as `train` does) and the test part is scored
with `evaluate.score_node_probs` at those thresholds: the benchmark's metrics, word for word.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hiergenre.baselines import PriorBaseline
from hiergenre.benchmark.folds import make_folds
from hiergenre.data import resolve_dataset
from hiergenre.evaluate import choose_thresholds, score_node_probs, scoring_classes
from hiergenre.losses import hierarchical_conditional_loss
from hiergenre.models.heads import TreeStructure, hierarchical_probs
from hiergenre.taxonomy import get_label_space, load_taxonomy
from hiergenre.train.probe import ProbeConfig, branch_groups, fit_probe, flat_groups

KEYS = ("hF", "level1_accuracy", "level2_accuracy", "level1_balanced_accuracy",
        "level2_balanced_accuracy", "balanced_accuracy", "accuracy", "auroc_macro",
        "auprc_micro", "level1_auprc_macro", "level2_auprc_macro")  # fmt: skip


class Setting:
    """The dataset, its taxonomy and folds, and the node structure the heads need."""

    def __init__(self, data: str):
        self.tax = load_taxonomy()
        self.ds = resolve_dataset(data, self.tax)
        self.space = get_label_space("all", self.tax)
        self.labels = [list(s) for s in self.ds.label_sets]
        self.y = self.space.encode(self.labels).astype(np.float32)
        self.folds = make_folds(self.ds, self.tax, 5, 230)
        self.tree = TreeStructure(self.tax)
        names = self.tax.names
        self.parents = np.array(
            [names.index(self.tax.parent(n)) if self.tax.level(n) > 1 else -1 for n in names]
        )
        self.groups = branch_groups(self.parents, "softmax")
        self.classes = scoring_classes(self.labels, self.tax)
        self.present = tuple(n for j, n in enumerate(names) if self.y[:, j].any())

    def parts(self, fold: int) -> dict[str, np.ndarray]:
        split = self.folds[fold]
        return {p: split.rows(self.ds, p) for p in ("train", "dev", "test")}

    def hier_probs(self, logits: np.ndarray) -> np.ndarray:
        z = torch.as_tensor(logits, dtype=torch.float32)
        return hierarchical_probs(z, self.tree, "softmax").numpy()

    def coherent(self, p: np.ndarray) -> np.ndarray:
        """Each node's probability capped by its parent's (levels top-down)."""
        out = p.copy()
        for j in np.argsort(self.tax.levels, kind="stable"):
            if self.parents[j] >= 0:
                out[:, j] = np.minimum(out[:, j], out[:, self.parents[j]])
        return out

    def score(self, probs: np.ndarray, rows: np.ndarray, thresholds) -> dict:
        m = score_node_probs(probs, self.space, [self.labels[i] for i in rows], self.tax,
                             "hierarchical", classes=self.classes, present=self.present,
                             thresholds=thresholds)  # fmt: skip
        return {k: m.get(k) for k in KEYS}


def probe_probs(s: Setting, x, parts, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(dev probs of the train-only fit, test probs of the refit) of the library's probe."""
    feats = {p: x[parts[p]] for p in ("train", "dev")}
    targets = {p: s.y[parts[p]] for p in ("train", "dev")}
    if kind == "hier":
        fit = fit_probe(feats, targets, s.groups, ProbeConfig())
    else:
        fit = fit_probe(feats, targets, flat_groups(s.y.shape[1], "sigmoid"),
                        ProbeConfig(l2_grid=(1.0,)))  # fmt: skip
    dev = x[parts["dev"]] @ fit.held_weight.T + fit.held_bias
    test = x[parts["test"]] @ fit.weight.T + fit.bias
    if kind == "hier":
        return s.hier_probs(dev), s.hier_probs(test)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    return s.coherent(sig(dev)), s.coherent(sig(test))


def branch_loss(s: Setting):
    """The hierarchical head's training loss (`losses.hierarchical_conditional_loss`, softmax):
    one softmax per branch against the album's children there, over albums carrying the parent."""
    return lambda logits, y: hierarchical_conditional_loss(logits, y, s.tax, "softmax")


def _standardise(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x[rows].mean(0)
    std = x[rows].std(0)
    return mean, np.where(std > 1e-8, std, 1.0)


def mlp_probs(s: Setting, x, parts, seed: int = 230, hidden: int = 512) -> tuple:
    """(dev probs, test probs) of the MLP head; see the module doc."""
    mean, std = _standardise(x, parts["train"])
    xs = {p: torch.as_tensor((x[r] - mean) / std, dtype=torch.float32) for p, r in parts.items()}
    ys = {p: torch.as_tensor(s.y[r]) for p, r in parts.items()}
    loss_fn = branch_loss(s)

    def train(x_tr, y_tr, epochs, x_dev=None, y_dev=None):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Dropout(0.2), nn.Linear(x_tr.shape[1], hidden), nn.GELU(),
                            nn.Dropout(0.5), nn.Linear(hidden, s.y.shape[1]))  # fmt: skip
        opt = torch.optim.AdamW(net.parameters(), lr=3e-4, weight_decay=0.05)
        best, best_epoch, state = np.inf, 0, None
        gen = torch.Generator().manual_seed(seed)
        for epoch in range(1, epochs + 1):
            net.train()
            for idx in torch.randperm(len(x_tr), generator=gen).split(64):
                opt.zero_grad()
                loss_fn(net(x_tr[idx]), y_tr[idx]).backward()
                opt.step()
            if x_dev is not None:
                net.eval()
                with torch.no_grad():
                    dev_loss = float(loss_fn(net(x_dev), y_dev))
                if dev_loss < best:
                    best, best_epoch = dev_loss, epoch
                    state = {k: v.clone() for k, v in net.state_dict().items()}
                elif epoch - best_epoch >= 8:
                    break
        if state is not None:
            net.load_state_dict(state)
        return net.eval(), best_epoch

    held, epochs = train(xs["train"], ys["train"], 80, xs["dev"], ys["dev"])
    both_x = torch.cat([xs["train"], xs["dev"]])
    final, _ = train(both_x, torch.cat([ys["train"], ys["dev"]]), max(epochs, 1))
    with torch.no_grad():
        dev, test = held(xs["dev"]).numpy(), final(xs["test"]).numpy()
    return s.hier_probs(dev), s.hier_probs(test), {"epochs": epochs}


def load_features(spec: str, files: dict[str, str]) -> np.ndarray:
    """`name`, `a+b` (mean) or `a|b` (concatenation) of the named feature files."""
    if "|" in spec:
        return np.concatenate([load_features(p, files) for p in spec.split("|")], 1)
    if "+" in spec:
        parts = [load_features(p, files) for p in spec.split("+")]
        return sum(parts) / len(parts)
    return np.asarray(np.load(files[spec], mmap_mode="r"), dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--features", nargs="+", required=True, help="NAME=FILE.npy")
    ap.add_argument("--levers", required=True, help="comma list of LEVER@FEATURES")
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    files = dict(f.split("=", 1) for f in args.features)
    s = Setting(args.data)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    cache: dict[str, np.ndarray] = {}
    for fold in (int(f) for f in args.folds.split(",")):
        parts = s.parts(fold)
        memo: dict[str, tuple] = {}

        def fitted(kind: str, spec: str, parts=parts, memo=memo) -> tuple:
            """(dev probs, test probs, extra) of one head on one feature set, fitted once."""
            if f"{kind}@{spec}" not in memo:
                x = cache[spec]
                if kind == "mlp":
                    memo[f"{kind}@{spec}"] = mlp_probs(s, x, parts)
                else:
                    memo[f"{kind}@{spec}"] = (*probe_probs(s, x, parts, kind), {})
            return memo[f"{kind}@{spec}"]

        for lever in args.levers.split(","):
            kind, _, spec = lever.partition("@")
            t0 = time.time()
            if spec not in cache and kind != "prior":
                cache[spec] = load_features(spec, files)
                assert len(cache[spec]) == len(s.ds), (spec, len(cache[spec]), len(s.ds))
            extra: dict = {}
            if kind == "prior":
                prior = PriorBaseline().fit(None, s.y[parts["train"]], s.space)
                dev, test = (prior.predict_scores(None, n=len(parts[p])) for p in ("dev", "test"))
            elif kind in ("hier", "flat", "mlp"):
                dev, test, extra = fitted(kind, spec)
            elif kind in ("ens", "ens-mlp"):
                a, b = fitted("hier", spec), fitted("flat" if kind == "ens" else "mlp", spec)
                dev, test = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            else:
                raise SystemExit(f"unknown lever {kind!r}")
            thresholds = choose_thresholds(dev, [s.labels[i] for i in parts["dev"]], s.tax)
            row = s.score(test, parts["test"], thresholds)
            row.update(thresholds=thresholds, seconds=round(time.time() - t0, 1), **extra)
            results.setdefault(lever, {})[str(fold)] = row
            shown = {k: round(v, 3) for k, v in row.items() if isinstance(v, float)}
            print(f"fold {fold} {lever}: {shown}", flush=True)
            out.write_text(json.dumps(results, indent=1))
    print(table(results))


def table(results: dict) -> str:
    """Mean ± sd over folds of every lever, as a markdown table."""
    cols = ("hF", "level1_accuracy", "level2_accuracy", "level1_balanced_accuracy",
            "balanced_accuracy", "auroc_macro", "auprc_micro")  # fmt: skip
    lines = ["| lever | folds | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for lever, folds in results.items():
        cells = []
        for c in cols:
            v = np.array([f[c] for f in folds.values() if f.get(c) is not None], float)
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}")
        lines.append(f"| {lever} | {len(folds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
