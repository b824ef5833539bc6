"""Linear probes: a frozen encoder's head fitted as a convex problem on cached features.

Features are standardised with the training part's mean and std; each head is an L2-regularised
logistic regression solved full-batch with L-BFGS (strong Wolfe line search), once per L2
strength of a small grid, warm-started from the strongest; the strength with the lowest dev log
loss wins, and with `refit` the head is fitted again on train + dev at that strength. A group
with nothing to choose (a one-strength grid, or a branch with fewer than `MIN_DEV` dev albums,
which takes the root group's strength) skips the grid. The train-only fit at the chosen strength
is kept (`ProbeFit.held_weight` / `held_bias`): after a refit the dev albums are training data,
so a run scores its dev part with that fit, never with the refitted head (on the Discogs covers
with 21k features the refitted head scored 0.85 on dev against 0.46 on test). When the probe
has fewer albums than features, every group is fitted in one orthonormal basis of the span of
the train and dev albums, which gives the same optimum at a fraction of the cost (`_row_basis`;
a group's albums are among them, so its optimum lies in that span too). The standardisation
is folded into the weights at the end, so the result is a plain linear layer
`logits = features @ weight.T + bias` on the raw features.

Memory: the features are read, never copied whole. They may be float16 or float32, in memory or
memory-mapped (`hiergenre.featcache`); the mean and std are accumulated over row chunks; with
fewer albums than features the span's coordinates (n x n) are built from standardised float32
rows; otherwise (`Rows`) every solver step streams over chunks of `CHUNK_BYTES`, standardising
each chunk on the fly, so the style probe on 31k covers x 21,232 features x 445 nodes holds the
features once plus a chunk (`benchmarks/bench_probe_scale.py`). The solver runs on the GPU when
CUDA is present (`ProbeConfig.device`).

A head is one or more independent groups of output columns (`Group`): a softmax over the classes
for single-label targets, a sigmoid per node for multi-label targets, and for a hierarchical
model one group per branch (the children of one parent, fitted on the albums that carry the
parent), each with its own L2 strength chosen on its own dev albums. Because the groups share
nothing, fitting them apart gives the optimum of the summed objective.

Columns no training album carries get weight 0 and bias -`ABSENT_LOGIT` (never predicted);
sigmoid columns every album of the group carries get +`ABSENT_LOGIT`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from hiergenre.device import resolve_device
from hiergenre.errors import ConfigError
from hiergenre.train.config import L2_GRID

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 26  # float32 bytes of one streamed chunk of standardised features
ABSENT_LOGIT = 20.0
MIN_DEV = 10  # a branch with fewer dev albums takes the root group's L2 strength
KINDS = ("softmax", "sigmoid")
Progress = Callable[[str, dict], None] | None  # fit's `progress(event, info)`
Iterations = Callable[[int], None] | None  # told each new L-BFGS iteration of one solve


@dataclass(frozen=True)
class ProbeConfig:
    """How linear probes are fitted.

    `l2_grid`: strengths of 0.5 * l2 * ||W||^2 added to the mean log loss (scikit-learn's C is
    1 / (l2 * n_train)); `refit`: fit again on train + dev at the chosen strength."""

    l2_grid: tuple[float, ...] = L2_GRID
    max_iter: int = 100
    patience: int = 2  # stop the grid (strong to weak) after this many worse dev losses in a row
    refit: bool = True
    class_balanced: bool = False  # softmax groups: weight albums by inverse class frequency
    device: str = "auto"  # where the solver runs: cuda when there is a GPU, else cpu


@dataclass(frozen=True)
class Group:
    """Output columns fitted together: `kind` softmax or sigmoid; `parent` the target column the
    group's albums must carry (-1: every album)."""

    columns: tuple[int, ...]
    kind: str
    parent: int = -1


@dataclass
class ProbeFit:
    """A fitted head: weight (K, D), bias (K,) on raw features, and what was chosen per group."""

    weight: np.ndarray
    bias: np.ndarray
    choices: list[dict] = field(default_factory=list)
    held_weight: np.ndarray | None = None  # the train-only fit at the chosen strengths
    held_bias: np.ndarray | None = None

    @property
    def refitted(self) -> bool:
        """True when dev albums were fitted on (the held-out fit differs from the head)."""
        return any(c.get("refit") for c in self.choices)

    def held_out(self) -> ProbeFit:
        """The head fitted on the train part only, to score the dev part with."""
        if self.held_weight is None:
            return self
        return ProbeFit(self.held_weight, self.held_bias, self.choices)

    def record(self) -> dict:
        """JSON-ready summary for a run's summary.json."""
        l2s = sorted({c["l2"] for c in self.choices if c.get("l2") is not None})
        dev = "the train-only fit at the chosen L2" if self.refitted else "the head"
        return {"solver": "lbfgs", "groups": len(self.choices), "chosen_l2": l2s,
                "refit_on_dev": self.refitted, "dev_scored_with": dev,
                "per_group": self.choices}  # fmt: skip


def flat_groups(size: int, kind: str) -> list[Group]:
    """One group over every column: a softmax (single-label) or a sigmoid per column."""
    if kind not in KINDS:
        raise ConfigError(f"unknown probe kind {kind!r}: choose softmax or sigmoid")
    return [Group(tuple(range(size)), kind)]


def branch_groups(parent_index: np.ndarray, kind: str) -> list[Group]:
    """One group per branch of a tree (children of the root, then of each internal node);
    `parent_index` (K,) gives each node's parent column, -1 for level-1 nodes."""
    parents = np.asarray(parent_index)
    groups = []
    for p in [-1, *sorted(set(parents.tolist()) - {-1})]:
        groups.append(Group(tuple(np.flatnonzero(parents == p).tolist()), kind, int(p)))
    return groups


class Rows:
    """Standardised features of some albums, `(raw[rows] - mean) / std` over one or more raw
    arrays (float16 or float32, memory-mapped or not), read in float32 chunks and never held
    whole. Indexing with an array of positions gives the `Rows` of those albums."""

    def __init__(self, segments: list[tuple[np.ndarray, np.ndarray]], mean, std, device="cpu"):
        self.segments = [(raw, np.asarray(rows, np.int64)) for raw, rows in segments]
        self.mean = torch.as_tensor(mean, dtype=torch.float32, device=device)
        self.std = torch.as_tensor(std, dtype=torch.float32, device=device)
        self.device = device

    @property
    def shape(self) -> tuple[int, int]:
        return sum(len(r) for _, r in self.segments), int(self.mean.shape[0])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, at: np.ndarray) -> Rows:
        at = np.asarray(at, np.int64)
        out, start = [], 0
        for raw, rows in self.segments:
            mine = at[(at >= start) & (at < start + len(rows))] - start
            if len(mine):
                out.append((raw, rows[mine]))
            start += len(rows)
        return Rows(out, self.mean, self.std, self.device)

    def concat(self, other: Rows) -> Rows:
        return Rows(self.segments + other.segments, self.mean, self.std, self.device)

    def chunks(self):
        """(start, float32 tensor (c, D) of standardised rows) over every album, in order."""
        step = max(1, CHUNK_BYTES // (4 * self.shape[1]))
        start = 0
        for raw, rows in self.segments:
            for i in range(0, len(rows), step):
                block = np.asarray(raw[rows[i : i + step]], dtype=np.float32)
                x = torch.from_numpy(block).to(self.device)
                yield start, x.sub_(self.mean).div_(self.std)
                start += len(block)


def _blocks(x):
    """(start, tensor) blocks of a design matrix: one for a tensor, chunks for `Rows`."""
    return x.chunks() if isinstance(x, Rows) else iter([(0, x)])


def _logits(x, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x @ weight.T + bias, streamed when x is `Rows`."""
    return torch.cat([torch.addmm(bias, block, weight.T) for _, block in _blocks(x)])


def _moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and std (float64) of raw features, accumulated over row chunks."""
    n, dim = features.shape
    total, squares = np.zeros(dim), np.zeros(dim)
    step = max(1, CHUNK_BYTES // (8 * dim))
    for i in range(0, n, step):
        block = np.asarray(features[i : i + step], dtype=np.float64)
        total += block.sum(0)
        squares += np.square(block).sum(0)
    mean = total / max(n, 1)
    return mean, np.sqrt(np.maximum(squares / max(n, 1) - mean * mean, 0.0))


def _standardised(features: np.ndarray, mean, std, out: np.ndarray) -> np.ndarray:
    """(features - mean) / std written into the float32 `out`, chunk by chunk (no float64
    copy of the whole)."""
    step = max(1, CHUNK_BYTES // (8 * features.shape[1]))
    for i in range(0, len(features), step):
        out[i : i + step] = (np.asarray(features[i : i + step], np.float64) - mean) / std
    return out


def _terms(logits: torch.Tensor, y: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(log loss per album and column, d loss / d logits) of one group: a softmax over the
    columns (rows of y sum to 1) or a sigmoid per column."""
    if kind == "softmax":
        log_p = F.log_softmax(logits, dim=1)
        return -(y * log_p), log_p.exp() - y
    return F.binary_cross_entropy_with_logits(logits, y, reduction="none"), logits.sigmoid() - y


def _loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, kind: str) -> torch.Tensor:
    """Weighted mean log loss of one group."""
    return (_terms(logits, y, kind)[0].sum(1) * w).sum() / w.sum()


def _solve(x, y, w, kind, l2, init, max_iter, iterations: Iterations = None):
    """Minimise mean log loss + 0.5 * l2 * ||W||^2 with L-BFGS; returns (W (k, D), b (k,)).
    `iterations(n)` is told each new iteration (read from the solver's state, so the solve is
    the same with or without it).

    The closure sets the analytic gradient (softmax or sigmoid minus the targets, weighted, back
    through the linear layer) instead of running autograd: the same numbers, and most of a
    small branch's cost was autograd's bookkeeping."""
    weight, bias = init[0].clone(), init[1].clone()
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-6, tolerance_change=1e-10,
                            line_search_fn="strong_wolfe")  # fmt: skip
    share = (w / w.sum())[:, None]
    told = [0]

    @torch.no_grad()
    def closure() -> torch.Tensor:
        done = opt.state[weight].get("n_iter", 0)  # the iteration this evaluation belongs to
        if iterations is not None and done > told[0]:
            told[0] = done
            iterations(done)
        loss = 0.5 * l2 * (weight * weight).sum()
        grad = l2 * weight
        bias_grad = torch.zeros_like(bias)
        for start, block in _blocks(x):  # one pass over the features per step
            part = share[start : start + len(block)]
            per, resid = _terms(torch.addmm(bias, block, weight.T), y[start : start + len(block)],
                                kind)  # fmt: skip
            resid.mul_(part)
            grad.addmm_(resid.T, block)
            bias_grad += resid.sum(0)
            loss = loss + (per * part).sum()
        weight.grad, bias.grad = grad, bias_grad
        return loss

    opt.step(closure)
    return weight, bias


def _rows_of(group: Group, targets: np.ndarray) -> np.ndarray:
    """Albums a group learns from: those carrying its parent (and, for softmax, some column)."""
    rows = np.ones(len(targets), bool) if group.parent < 0 else targets[:, group.parent] > 0
    if group.kind == "softmax":
        rows &= targets[:, list(group.columns)].sum(1) > 0
    return np.flatnonzero(rows)


def _sample_weights(y: np.ndarray, kind: str, balanced: bool) -> np.ndarray:
    if kind != "softmax" or not balanced:
        return np.ones(len(y))
    counts = y.sum(0)
    per_class = np.where(counts > 0, len(y) / (np.maximum(counts, 1) * (counts > 0).sum()), 0)
    return (y * per_class).sum(1)


def _tensors(x, y: np.ndarray, kind: str, balanced: bool, device: str = "cpu"):
    """(x as a float32 tensor on the device, or `Rows` as they are; y; album weights)."""
    if kind == "softmax":
        y = y / y.sum(1, keepdims=True)
    w = _sample_weights(y, kind, balanced)
    if not isinstance(x, Rows):
        x = torch.as_tensor(x, dtype=torch.float32, device=device)
    return (x, torch.as_tensor(y, dtype=torch.float32, device=device),
            torch.as_tensor(w, dtype=torch.float32, device=device))  # fmt: skip


def _constant_columns(group: Group, y_tr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns to fit, bias of every column): absent ones -ABSENT_LOGIT, sigmoid columns that
    every album carries +ABSENT_LOGIT, a softmax group's single present column 0."""
    pos, n = y_tr.sum(0), len(y_tr)
    bias = np.full(len(group.columns), -ABSENT_LOGIT)
    if group.kind == "softmax":
        live = pos > 0
        bias[live] = 0.0 if live.sum() == 1 else -ABSENT_LOGIT
        return (np.flatnonzero(live) if live.sum() >= 2 else np.zeros(0, int)), bias
    bias[(pos == n) & (n > 0)] = ABSENT_LOGIT
    return np.flatnonzero((pos > 0) & (pos < n)), bias


def _row_basis(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(orthonormal basis (D, n) of the span of the probe's albums `rows` (n, D) float32, the
    albums' coordinates in it (n, n)) when n is well below D, else None.

    An L2-regularised linear model's optimal weights lie in the span of its training rows (a part
    orthogonal to it only adds to the penalty), and L-BFGS from a zero start never leaves that
    span, so fitting on the coordinates `rows @ basis` finds the same head at about n / D of the
    cost (3,000 albums on 21,232 features: 14%). One basis serves every group: a branch's albums
    are among the rows, so its optimum lies in their span too, and one QR replaces one per
    branch (a hierarchical probe has about 100). With rows.T = Q R, the coordinates
    rows @ Q are R.T: no product with the basis, and no copy of the rows beyond LAPACK's."""
    n, dim = rows.shape
    if n >= 0.8 * dim:
        return None
    q, r = torch.linalg.qr(torch.from_numpy(rows).T)  # rows.T is column-major, as LAPACK wants
    return q.numpy(), np.ascontiguousarray(r.T.numpy())


def _over_grid(train, dev, kind: str, config: ProbeConfig, tell=None) -> tuple[list, list]:
    """Fits [(l2, (W, b))] from the strongest L2 down (warm starts) and their dev log losses."""
    dim, k, dev_at = train[0].shape[1], train[1].shape[1], train[1].device
    init = (torch.zeros(k, dim, device=dev_at), torch.zeros(k, device=dev_at))
    fits, scores = [], []
    grid = sorted(config.l2_grid, reverse=True)
    for step, l2 in enumerate(grid, 1):
        init = _solve(
            *train, kind, l2, init, config.max_iter, _at(tell, "grid", l2, step, len(grid))
        )
        fits.append((l2, init))
        if dev is not None:
            with torch.no_grad():
                scores.append(float(_loss(_logits(dev[0], *init), dev[1], dev[2], kind)))
            if len(scores) > config.patience and min(scores) < min(scores[-config.patience :]):
                break  # dev loss rose for `patience` strengths in a row: weaker ones overfit more
    return fits, scores


def _teller(progress: Progress, **where) -> Callable[[dict], None] | None:
    """`tell(info)` for one group's solves: `progress("probe", where + info)`, or None."""
    return None if progress is None else lambda info: progress("probe", {**where, **info})


def _at(tell, stage: str, l2: float, step: int, steps: int) -> Iterations:
    """The iteration callback of one solve: `tell` gets where the solve stands (`stage` grid,
    fit or refit; the `step`-th of `steps` strengths, `l2`) and its `iteration`."""
    if tell is None:
        return None
    where = {"stage": stage, "l2": l2, "step": step, "steps": steps}
    return lambda iteration: tell({**where, "iteration": iteration})


def _choose(train, dev, kind: str, config: ProbeConfig, fallback_l2: float | None, tell=None):
    """(l2, (W, b), dev loss per strength) of the grid strength with the lowest dev loss."""
    fits, scores = _over_grid(train, dev, kind, config, tell)
    if scores:
        l2, best = fits[int(np.argmin(scores))]
    else:  # no dev album for this branch: the root group's choice, else the middle of the grid
        grid = sorted(config.l2_grid)
        l2 = fallback_l2 if fallback_l2 in grid else grid[len(grid) // 2]
        best = dict(fits)[l2]
    return l2, best, {f[0]: s for f, s in zip(fits, scores, strict=False)}


def fit_group(
    group: Group,
    x: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    config: ProbeConfig,
    fallback_l2: float | None = None,
    tell: Callable[[dict], None] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], dict]:
    """Fit one group on standardised features; x/targets keyed 'train' and 'dev'; `tell(info)`
    hears each solver iteration (see `fit_probe`).

    Returns (W (k, D), b (k,)) for the group's columns, the same fitted on train only at the
    chosen strength (equal unless refitted), and a record of the choice."""
    cols = list(group.columns)
    tr = _rows_of(group, targets["train"])
    y_tr = targets["train"][tr][:, cols]
    keep, bias = _constant_columns(group, y_tr)
    weight = np.zeros((len(cols), x["train"].shape[1]))
    record = {"columns": len(cols), "fitted": len(keep), "train": len(tr), "l2": None}
    if not len(keep):
        return (weight, bias), (weight, bias), record
    dv = _rows_of(group, targets["dev"])
    dev_y = targets["dev"][dv][:, cols][:, keep]
    if group.kind == "softmax":
        dv, dev_y = dv[dev_y.sum(1) > 0], dev_y[dev_y.sum(1) > 0]
    x_tr, x_dv = x["train"][tr], x["dev"][dv]
    device = resolve_device(config.device).type
    train = _tensors(x_tr, y_tr[:, keep], group.kind, config.class_balanced, device)
    dev = _tensors(x_dv, dev_y, group.kind, False, device) if len(dv) else None
    fixed = config.l2_grid[0] if len(config.l2_grid) == 1 else None
    if fallback_l2 is not None and len(dv) < MIN_DEV:
        fixed = fallback_l2  # too few dev albums to choose on: the root group's strength
    if fixed is not None:  # no grid: one fit on train
        l2, losses = fixed, {}
        best = (torch.zeros(len(keep), train[0].shape[1], device=device),
                torch.zeros(len(keep), device=device))  # fmt: skip
        best = _solve(*train, group.kind, l2, best, config.max_iter, _at(tell, "fit", l2, 1, 1))
    else:
        l2, best, losses = _choose(train, dev, group.kind, config, fallback_l2, tell)
    refit = bool(config.refit and len(dv))
    record.update(l2=l2, dev=len(dv), dev_loss=losses, refit=refit)

    def raw(fitted) -> tuple[np.ndarray, np.ndarray]:
        w, b = weight.copy(), bias.copy()
        w[keep], b[keep] = fitted[0].cpu().numpy(), fitted[1].cpu().numpy()
        return w, b

    held = raw(best)
    if refit:  # warm-started from the train-only fit
        both_x = x_tr.concat(x_dv) if isinstance(x_tr, Rows) else np.concatenate([x_tr, x_dv])
        both_y = np.concatenate([y_tr[:, keep], dev_y])
        both = _tensors(both_x, both_y, group.kind, config.class_balanced, device)
        best = _solve(*both, group.kind, l2, best, config.max_iter, _at(tell, "refit", l2, 1, 1))
    return (raw(best) if refit else held), held, record


def fit_probe(
    features: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    groups: list[Group],
    config: ProbeConfig | None = None,
    progress: Progress = None,
) -> ProbeFit:
    """Fit every group on train (choosing L2 on dev); features (N, D), targets (N, K) multi-hot
    per part 'train' / 'dev'. The result acts on RAW features (standardisation folded in).

    `progress("probe", info)` is called at each new L-BFGS iteration of every solve, with `info`
    {group, groups, stage, l2, step, steps, iteration, max_iter}: the `group`-th of `groups`;
    `stage` grid (the `step`-th of `steps` strengths, strongest first; a grid may stop early),
    fit (one strength, nothing to choose) or refit (train + dev at the chosen strength)."""
    config = config or ProbeConfig()
    if not config.l2_grid or min(config.l2_grid) <= 0:
        raise ConfigError("the probe's l2_grid needs at least one positive strength")
    mean, std = _moments(features["train"])
    std = np.where(std > 1e-8, std, 1.0)
    n = len(features["train"]) + len(features["dev"])
    dim = features["train"].shape[1]
    if n < 0.8 * dim:  # every group in the coordinates of the albums' span (see _row_basis)
        cut = len(features["train"])
        rows = np.empty((n, dim), np.float32)
        _standardised(features["train"], mean, std, rows[:cut])
        _standardised(features["dev"], mean, std, rows[cut:])
        spanned = _row_basis(rows)
        basis, coords = spanned if spanned is not None else (None, rows)
        del rows, spanned
        x = {"train": coords[:cut], "dev": coords[cut:]}
    else:  # streamed: standardised chunk by chunk at every solver step (see `Rows`)
        basis, device = None, resolve_device(config.device).type
        x = {p: Rows([(f, np.arange(len(f)))], mean, std, device) for p, f in features.items()}
    size = targets["train"].shape[1]
    shape = (size, x["train"].shape[1])
    final = (np.zeros(shape), np.full(size, -ABSENT_LOGIT))
    held = (np.zeros(shape), np.full(size, -ABSENT_LOGIT))
    choices, root_l2 = [], None
    for number, group in enumerate(groups, 1):
        tell = _teller(progress, group=number, groups=len(groups), max_iter=config.max_iter)
        fitted, train_only, record = fit_group(group, x, targets, config, root_l2, tell)
        if group.parent < 0 and record["l2"] is not None:
            root_l2 = record["l2"]
        cols = list(group.columns)
        for (weight, bias), (w, b) in ((final, fitted), (held, train_only)):
            weight[cols], bias[cols] = w, b
        choices.append({"parent": group.parent, "kind": group.kind, **record})
    if basis is not None:  # back from the span's coordinates to the standardised features
        final, held = ((w @ basis.T, b) for w, b in (final, held))
    (weight, bias), (held_w, held_b) = (_unstandardise(*p, mean, std) for p in (final, held))
    return ProbeFit(weight, bias, choices, held_w, held_b)


def _unstandardise(weight, bias, mean, std) -> tuple[np.ndarray, np.ndarray]:
    """Fold the standardisation into a head: the same logits on raw features (float32)."""
    raw_weight = weight / std
    return raw_weight.astype(np.float32), (bias - raw_weight @ mean).astype(np.float32)
