"""Issue 19's head levers on cover2genres, one at a time, on the benchmark's own folds.

usage: python benchmarks/bench_levers_cover2genres.py DATASET FEATURES OUT.json LEVERS [FOLDS]

DATASET is the import of ../shared/data/cover2genres (see benchmarks/results/on-cover2genres/
ablation.md); FEATURES the benchmark's lite0 feature cache file of that import
(`$HIERGENRE_CACHE/features/albums-<key>.safetensors`, written by a `hiergenre benchmark` run);
LEVERS a comma list of prior, hier, hier-bal, stop, flat. Per fold the features are standardised
and projected onto the span of the train + dev albums once (as `train.probe.fit_probe` does), each
lever's groups are fitted with `train.probe.fit_group`, dev probabilities come from the train-only
fit, test ones from the refit, and test is scored with `evaluate.score_node_probs` at 0.5 and at
per-level thresholds chosen on dev. Results: ablation.md in that folder.
"""

# ruff: noqa
import json
import time


import json
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file

from hiergenre.benchmark.folds import make_folds
from hiergenre.data import resolve_dataset
from hiergenre.evaluate import score_node_probs, scoring_classes
from hiergenre import metrics as M
from hiergenre.models.heads import TreeStructure, hierarchical_probs
from hiergenre.taxonomy import get_label_space, load_taxonomy
from hiergenre.train.probe import ProbeConfig, branch_groups, fit_probe, flat_groups, Group

torch.set_num_threads(2)
DATA, FEATS, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
tax = load_taxonomy()
ds = resolve_dataset(DATA, tax)
label_sets = ds.label_sets
space = get_label_space("all", tax)
Y = space.encode(label_sets).astype(np.float64)
X = load_file(FEATS)["features"].numpy()
if False:  # a slice of the features: pooled (last 1280) or style
    X = {"pooled": X[:, -1280:], "style": X[:, :-1280]}[sys.argv[5]]
assert len(X) == len(ds), (len(X), len(ds))
classes = scoring_classes(label_sets, tax)
present = tuple(n for n in tax.names if Y[:, tax.names.index(n)].any())
folds = make_folds(ds, tax, 5, 230)
tree = TreeStructure(tax)
parents = np.array([tax.names.index(tax.parent(n)) if tax.level(n) > 1 else -1 for n in tax.names])
levels = np.asarray(tax.levels)
anc = tax.ancestry_array()
true_sets = Y > 0


def hprobs(logits, mode="softmax"):
    return hierarchical_probs(torch.as_tensor(logits, dtype=torch.float32), tree, mode).numpy()


def decode_sets(p, thr):
    """Top-down: best level-1 always; step to level L+1 if best child's p >= thr[L-1]."""
    n = len(p)
    out = np.zeros(p.shape, bool)
    cur = np.full(n, -1)
    alive = np.ones(n, bool)
    for step in range(tax.depth):
        is_child = parents[None, :] == cur[:, None]
        masked = np.where(is_child, p, -np.inf)
        arg = masked.argmax(1)
        best = masked[np.arange(n), arg]
        alive &= is_child.any(1)
        if step > 0:
            alive &= best >= thr[min(step - 1, len(thr) - 1)]
        out[np.flatnonzero(alive), arg[alive]] = True
        cur = np.where(alive, arg, cur)
    return out


def hf(p, rows, thr):
    return M.hierarchical_prf(true_sets[rows], decode_sets(p, thr), anc)["hF"]


GRID = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.01]


def choose_thresholds(p, rows):
    """Coordinate search, level 2 then level 3 (then level 2 again), maximising dev hF."""
    thr = [0.5, 0.5, 0.5]
    for lv in (0, 1, 0):
        best = max(GRID, key=lambda t: hf(p, rows, thr[:lv] + [t] + thr[lv + 1 :]))
        thr[lv] = best
    return thr


def score(p, rows, thr=None, task="hierarchical"):
    m = score_node_probs(
        p, space, [label_sets[i] for i in rows], tax, task, classes=classes, present=present
    )
    la = m.get("level_accuracy", {})
    out = {
        "hF": m["hF"],
        "l1": la.get(1),
        "l2": la.get(2),
        "bacc": m.get("balanced_accuracy"),
        "acc": m.get("accuracy"),
        "mAUROC": m["auroc_macro"],
        "uAUPRC": m["auprc_micro"],
    }
    if thr is not None:
        out["hF_thr"] = hf(p, rows, thr)
        out["thr"] = thr
    return out


HGROUPS = branch_groups(parents, "softmax")


INTERNAL = sorted(set(parents.tolist()) - {-1})


def stop_targets():
    """Y plus one column per internal node: the album carries the node but none of its children."""
    extra = np.zeros((len(Y), len(INTERNAL)))
    for j, p in enumerate(INTERNAL):
        kids = np.flatnonzero(parents == p)
        extra[:, j] = (Y[:, p] > 0) & (Y[:, kids].sum(1) == 0)
    return np.concatenate([Y, extra], 1)


def stop_probs(logits, groups, K):
    cond = np.zeros((len(logits), K))
    for g in groups:
        cols = list(g.columns)
        z = logits[:, cols]
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        sm = e / e.sum(1, keepdims=True)
        kids = [c for c in cols if c < K]
        cond[:, kids] = sm[:, : len(kids)]
    logc = np.log(np.maximum(cond, 1e-30))
    from hiergenre.models.heads import chain_log_probs

    return chain_log_probs(torch.as_tensor(logc), tree).exp().numpy()


SGROUPS = []
for g in HGROUPS:
    cols = g.columns if g.parent < 0 else g.columns + (len(tax.names) + INTERNAL.index(g.parent),)
    SGROUPS.append(Group(tuple(cols), "softmax", g.parent))

from hiergenre.train.probe import fit_group, _row_basis
from hiergenre.train.probe import ProbeConfig, Group, fit_group, _row_basis

LEVERS = sys.argv[4].split(",")
FOLDS = [int(x) for x in sys.argv[5].split(",")] if len(sys.argv) > 5 else range(5)
K = len(tax.names)
Ys = stop_targets()


def fit_groups(groups, xs, targets, cfg):
    """(dev logits, test logits) over the targets' columns: held-out fit for dev, final for test."""
    size = targets["train"].shape[1]
    dim = xs["train"].shape[1]
    W = np.zeros((size, dim))
    B = np.full(size, -20.0)
    Wh = np.zeros((size, dim))
    Bh = np.full(size, -20.0)
    root = None
    for g in groups:
        (w, b), (wh, bh), rec = fit_group(g, xs, targets, cfg, root)
        if g.parent < 0 and rec["l2"] is not None:
            root = rec["l2"]
        c = list(g.columns)
        W[c], B[c], Wh[c], Bh[c] = w, b, wh, bh
    return xs["dev"] @ Wh.T + Bh, xs["test"] @ W.T + B


results = {}
for i in FOLDS:
    split = folds[i]
    parts = {p: split.rows(ds, p) for p in ("train", "dev", "test")}
    t0 = time.time()
    mean = X[parts["train"]].mean(0)
    std = X[parts["train"]].std(0)
    std = np.where(std > 1e-8, std, 1.0)
    xs = {p: ((X[r] - mean) / std).astype(np.float32) for p, r in parts.items()}
    basis = _row_basis(np.concatenate([xs["train"], xs["dev"]]))
    xs = {p: v @ basis for p, v in xs.items()}
    print("fold", i, "projected", round(time.time() - t0), flush=True)
    for name in LEVERS:
        t1 = time.time()
        cfgkw = {}
        if "-l2x" in name:
            cfgkw["l2_grid"] = (0.3, 1.0, 3.0, 10.0, 30.0)
        cfg = ProbeConfig(class_balanced="-bal" in name, **cfgkw)
        if name == "prior":
            f = Y[parts["train"]].mean(0)
            dp, tp = np.tile(f, (len(parts["dev"]), 1)), np.tile(f, (len(parts["test"]), 1))
        elif name.startswith("hier"):
            tg = {p: Y[parts[p]] for p in ("train", "dev")}
            d, t = fit_groups(HGROUPS, xs, tg, cfg)
            dp, tp = hprobs(d), hprobs(t)
        elif name.startswith("stop"):
            tg = {p: Ys[parts[p]] for p in ("train", "dev")}
            d, t = fit_groups(SGROUPS, xs, tg, cfg)
            dp, tp = stop_probs(d, SGROUPS, K), stop_probs(t, SGROUPS, K)
        elif name.startswith("flat"):
            tg = {p: Y[parts[p]] for p in ("train", "dev")}
            cfg = ProbeConfig(l2_grid=(1.0,))
            d, t = fit_groups(flat_groups(K, "sigmoid"), xs, tg, cfg)
            dp, tp = 1 / (1 + np.exp(-d)), 1 / (1 + np.exp(-t))
        thr = choose_thresholds(dp, parts["dev"])
        s = score(tp, parts["test"], thr)
        s["seconds"] = time.time() - t1
        results.setdefault(name, {})[i] = s
        print(
            name,
            i,
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()},
            flush=True,
        )
        json.dump(results, open(OUT, "w"), indent=1)
