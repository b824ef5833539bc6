"""Benchmark plots (matplotlib, Agg backend, PNG): precision-recall curves, the single-label
confusion matrix, and per-level accuracy of flat versus hierarchical models."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hiergenre import metrics  # noqa: E402

log = logging.getLogger(__name__)
DPI = 110
GENRE_CURVES = 4


def pr_curves(
    micro: Mapping[str, tuple[np.ndarray, np.ndarray]],
    per_genre: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: Path,
    genre_model: str = "",
) -> Path:
    """Left: micro PR curve of each model, y (N, K) and scores (N, K); right: one model's PR
    curve for a few genres, y (N,) and scores (N,). Writes a PNG and returns its path."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, (y, s) in micro.items():
        p, r, _ = metrics.pr_curve(y, s)
        ap = metrics.auprc(y, s, "micro")
        axes[0].step(r, p, where="post", label=f"{name} (AP {ap:.3f})")
    axes[0].set_title("micro precision-recall (all album x label pairs)")
    for genre, (y, s) in per_genre.items():
        p, r, _ = metrics.pr_curve(y[:, None], s[:, None])
        axes[1].step(r, p, where="post", label=f"{genre} ({int(y.sum())} pos.)")
    axes[1].set_title(f"per genre: {genre_model}" if genre_model else "per genre")
    for ax in axes:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def confusion(cm: np.ndarray, classes: Sequence[str], path: Path, title: str = "") -> Path:
    """A confusion matrix (rows true, columns predicted), row-normalised colours, raw counts."""
    cm = np.asarray(cm)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.5, 0.45 * len(classes) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i, j in np.ndindex(cm.shape):
        if cm[i, j]:
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    return _save(fig, path)


def level_accuracies(metrics: Mapping) -> dict[int, float]:
    """{level: accuracy} from a metrics dict's `level<L>_accuracy` (levels with albums only)."""
    out = {}
    for lv in range(1, 10):
        value = metrics.get(f"level{lv}_accuracy")
        if value is not None and metrics.get(f"level{lv}_albums"):
            out[lv] = float(value)
    return out


def level_accuracy(levels: Mapping[str, Mapping], path: Path) -> Path:
    """Grouped bars: accuracy at each taxonomy level per model ({model: {level: accuracy}})."""
    names = list(levels)
    depth = max((len(v) for v in levels.values()), default=0)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * depth + 3), 4))
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        vals = [_level(levels[name], lv) for lv in range(1, depth + 1)]
        ax.bar(np.arange(depth) + k * width, vals, width, label=name)
    ax.set_xticks(np.arange(depth) + width * (len(names) - 1) / 2,
                  [f"level {i}" for i in range(1, depth + 1)])  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy of the greedy top-down path")
    ax.set_title("per-level accuracy: flat vs hierarchical")
    ax.grid(axis="y", alpha=0.3)
    if names:
        ax.legend(fontsize=8)
    return _save(fig, path)


def precision_depth(curves: Mapping[str, Mapping], path: Path) -> Path:
    """Per model, over a decode threshold: the share of albums for which it names a level-2
    genre (x) against how often that genre is right (y) ({model: metrics["depth_curve"]})."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, c in curves.items():
        named = np.asarray(c["named"], dtype=float)
        precision = np.asarray([np.nan if v is None else v for v in c["precision"]], dtype=float)
        keep = np.isfinite(named) & np.isfinite(precision)
        ax.plot(named[keep], precision[keep], marker="o", markersize=3, label=name)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share of albums given a sub-genre (level 2), as the threshold falls")
    ax.set_ylabel("share of those sub-genres that are right")
    ax.set_title("precision vs depth (albums labelled to level 2)")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    return _save(fig, path)


def _level(values: Mapping, level: int) -> float:
    v = values.get(level, values.get(str(level)))
    return float(v) if v is not None else np.nan


def _save(fig, path: Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def benchmark_plots(payload: dict, out: Path, preds: Mapping | None = None) -> list[Path]:
    """The benchmark's PNGs from results and `preds` {model: (y (N, K), scores (N, K), nodes)}."""
    out = Path(out)
    written = []
    preds = preds or {}
    if preds:
        micro = {name: (y, s) for name, (y, s, _) in preds.items()}
        genre_model = "koenig-multilabel" if "koenig-multilabel" in preds else next(iter(preds))
        y, s, nodes = preds[genre_model]
        top = np.argsort(-y.sum(0), kind="stable")[:GENRE_CURVES]
        per_genre = {nodes[j]: (y[:, j], s[:, j]) for j in top if y[:, j].any()}
        written.append(pr_curves(micro, per_genre, out / "pr_curves.png", genre_model))
    rows = {r["name"]: r for r in payload["models"]}
    single = rows.get("koenig-singlelabel") or next(
        (r for r in payload["models"] if r["metrics"].get("confusion")), None
    )
    if single is not None and single["metrics"].get("confusion"):
        m = single["metrics"]
        title = (
            f"{single['name']}: accuracy {m['accuracy']:.3f}, balanced {m['balanced_accuracy']:.3f}"
        )
        written.append(confusion(np.array(m["confusion"]), m["classes"],
                                 out / "confusion_singlelabel.png", title))  # fmt: skip
    curves = {n: r["metrics"]["depth_curve"] for n, r in rows.items()
              if r["metrics"].get("depth_curve")}  # fmt: skip
    if curves:
        written.append(precision_depth(curves, out / "precision_vs_depth.png"))
    levels = {n: level_accuracies(r["metrics"]) for n, r in rows.items()}
    levels = {n: v for n, v in levels.items() if v}
    if levels:
        written.append(level_accuracy(levels, out / "level_accuracy.png"))
    return written
