"""Benchmark results: the results dict, the table (one row per model, poster numbers beside this
run's), and the files results.json, results.csv, results.md and the PNG plots."""

from __future__ import annotations

import csv
import json
import logging
import math
import platform
from dataclasses import asdict
from pathlib import Path

import torch

from hiergenre.benchmark.config import POSTER, POSTER_NOTES, BenchmarkConfig
from hiergenre.evaluate import LEVEL_COLUMNS, level_value
from hiergenre.fileio import json_safe

log = logging.getLogger(__name__)

LEVELS = (1, 2)  # the levels the per-level table shows (every level is in results.json)

# (metric key, column header, what it is): the table's metric columns, in order.
COLUMNS = (
    ("auroc_micro", "µAUROC", "AUROC pooled over all album x label pairs (the poster's averaging)"),
    ("auroc_macro", "mAUROC", "AUROC per label, averaged over labels with a positive (Oramas')"),
    ("auprc_micro", "µAUPRC", "average precision pooled over all album x label pairs"),
    ("precision_at_0.5", "P@.5", "micro precision of labels with p >= 0.5"),
    ("recall_at_0.5", "R@.5", "micro recall of labels with p >= 0.5"),
    ("accuracy", "acc", "single-label accuracy over the single-label classes (argmax)"),
    ("balanced_accuracy", "bal.acc", "mean per-class recall over the same albums"),
    ("hF", "hF", "hierarchical F1 of the top-down threshold decode (Kiritchenko, micro)"),
    ("violation_rate", "viol.", "share of album x parent-child pairs with P(child) > P(parent)"),
)
EXTRA = (
    ("params", "params", "parameters of the model (trainable ones train on CPU here)"),
    ("train_seconds", "train s", "wall seconds to train (feature extraction included)"),
    ("images_per_s", "img/s", "whole-model covers/s, warm (batch size in results.json)"),
    ("pretrained", "pretrained", "ImageNet weights used (yes / NO = wanted but random init / -)"),
)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def build_results(config: BenchmarkConfig, setting, rows: list[dict]) -> dict:
    """The results.json content: config, setting, one entry per model, notes."""
    pretrained = {r["name"]: r["pretrained"] for r in rows if r["kind"] == "model"}
    notices = [f"{r['name']}: {r['notice']}" for r in rows if r.get("notice")]
    return json_safe({
        "config": {k: v for k, v in asdict(config).items() if k != "plans"},
        "setting": setting.describe(),
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "threads": torch.get_num_threads(), "device": config.device},
        "pretrained": pretrained,
        "notices": notices,
        "poster": POSTER,
        "poster_notes": list(POSTER_NOTES),
        "models": rows,
    })  # fmt: skip


def fmt(value, key: str = "") -> str:
    """A table cell: 3 decimals, integers with thousands separators, '-' for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if key == "pretrained":
        return "yes" if value else "NO"
    if key == "params":
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{value:,}"
    if key in ("train_seconds", "images_per_s"):
        return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    return f"{value:.3f}"


def table(payload: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the benchmark table; a poster number shows as `this (poster)`."""
    headers = ["model", "head / labels"] + [h for _, h, _ in COLUMNS] + [h for _, h, _ in EXTRA]
    rows = []
    for r in payload["models"]:
        m = r["metrics"]
        poster = POSTER.get(r["name"], {})
        cells = [r["name"] + (" (baseline)" if r["kind"] == "baseline" else ""),
                 f"{r['output']} / {r['label_space']}"]  # fmt: skip
        sd = r.get("metrics_sd", {})
        for key, _, _ in COLUMNS:
            cell = fmt(m.get(key), key)
            if sd.get(key) is not None:
                cell += f" ± {sd[key]:.3f}"
            if key in poster:
                cell += f" ({poster[key]:.3f})"
            cells.append(cell)
        cells += [fmt(r.get(key), key) for key, _, _ in EXTRA]
        rows.append(cells)
    return headers, rows


def level_table(payload: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the per-level table: level-1 and level-2 accuracy, balanced accuracy
    and macro AUPRC (each over the test albums labelled to that depth), and hF, per model."""
    keys = [k for k, _ in LEVEL_COLUMNS if k != "albums"]
    headers = ["model"] + [f"L{lv} {h}" for lv in LEVELS for k, h in LEVEL_COLUMNS
                           if k != "albums"] + ["hF"]  # fmt: skip
    rows = []
    for r in payload["models"]:
        m, sd = r["metrics"], r.get("metrics_sd", {})
        cells = [r["name"] + (" (baseline)" if r["kind"] == "baseline" else "")]
        for lv in LEVELS:
            for key in keys:
                cell = fmt(level_value(m, lv, key))
                spread = sd.get(f"level{lv}_{key}")
                cells.append(cell + (f" ± {spread:.3f}" if spread is not None else ""))
        cells.append(fmt(m.get("hF")) + (f" ± {sd['hF']:.3f}" if sd.get("hF") is not None else ""))
        rows.append(cells)
    return headers, rows


def level_albums(payload: dict) -> str:
    """One line: how many test albums each level's numbers are over."""
    for r in payload["models"]:
        counts = [r["metrics"].get(f"level{lv}_albums") for lv in LEVELS]
        if all(_finite(c) for c in counts):
            parts = [f"level {lv} over {c:,.0f}" for lv, c in zip(LEVELS, counts, strict=True)]
            return f"Per-level numbers: {', '.join(parts)} test albums (labelled to that depth)."
    return ""


def _folds_line(setting: dict) -> list[str]:
    """How a K-fold run was split (nothing for a single split)."""
    if not setting.get("folds"):
        return []
    grouped = ("group-aware (each artist in one fold)" if setting.get("group_aware") else
               "NOT group-aware: the dataset names no groups (artists)")  # fmt: skip
    return [f"{setting['folds']}-fold cross-validation, stratified, {grouped}; every number is "
            "the mean ± sd over folds."]  # fmt: skip


def headline(payload: dict) -> list[str]:
    """The lines printed under the table: dataset, weights, and the done-when checks."""
    s = payload["setting"]
    lines = _folds_line(s)
    if s.get("folds"):  # train: the first fold's part; test: the folds' test parts together
        split = (f"{s['folds']} folds, each training on about {s['train_albums']} albums; their "
                 f"test parts together hold {s['test_albums']}, saved as {s['split']}")  # fmt: skip
    else:
        split = f"split {s['train_albums']} train / {s['test_albums']} test, saved as {s['split']}"
    lines += [
        f"Dataset: {s['dataset']} ({s['albums']} albums; {split}). Single-label columns: "
        f"{s['test_single_label_albums']} test albums with exactly one of {len(s['classes'])} "
        f"classes ({s['classes_name']}: {', '.join(s['classes'])}).",
        "Pretrained weights: " + (", ".join(
            f"{k} {'yes (ImageNet)' if v else 'NO (random init)' if v is False else 'n/a'}"
            for k, v in payload["pretrained"].items()) or "none used") + ".",
    ]  # fmt: skip
    lines += [f"NOTICE {n}" for n in payload["notices"]]
    lines += checks(payload)
    return lines


def checks(payload: dict) -> list[str]:
    """The issue's measurable claims, stated with this run's numbers."""
    by = {r["name"]: r["metrics"] for r in payload["models"]}
    out = []
    single, majority = by.get("koenig-singlelabel"), by.get("majority")
    if single and majority and _finite(single.get("balanced_accuracy")):
        a, b = single["balanced_accuracy"], majority.get("balanced_accuracy")
        verdict = "beats" if _finite(b) and a > b else "does NOT beat"
        out.append(f"Single-label CNN balanced accuracy {a:.3f} {verdict} the majority baseline's "
                   f"{fmt(b)} (accuracy {fmt(single.get('accuracy'))} vs "
                   f"{fmt(majority.get('accuracy'))}).")  # fmt: skip
    hier, flat = by.get("hierarchical"), by.get("koenig-multilabel")
    if hier is not None:
        out.append(f"Hierarchy violations: hierarchical {fmt(hier.get('violation_rate'))}"
                   + (f", flat multi-label CNN {fmt(flat.get('violation_rate'))}" if flat else "")
                   + ".")  # fmt: skip
    scored = [(r["name"], r["metrics"].get("accuracy")) for r in payload["models"]]
    best = max((t for t in scored if _finite(t[1])), key=lambda t: t[1], default=None)
    if best:
        out.append(f"Best single-label accuracy: {best[0]} {best[1]:.3f}.")
    return out


def write_results(
    payload: dict, out: Path, plots: bool = True, preds: dict | None = None
) -> list[Path]:
    """Write results.json, results.csv, results.md (and the plots from `preds`, see
    `plots.benchmark_plots`); returns the paths."""
    out = Path(out)
    written = [out / "results.json", out / "results.csv", out / "results.md"]
    written[0].write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    headers, rows = table(payload)
    with open(written[1], "w", newline="", encoding="utf-8") as fh:
        _write_csv(csv.writer(fh), payload)
    written[2].write_text(markdown(payload, headers, rows), encoding="utf-8")
    if plots:
        # lazy: heavy: plots import matplotlib; only when plots are written
        from hiergenre import plots as plotting

        written += plotting.benchmark_plots(payload, out, preds)
    return written


def _write_csv(writer, payload: dict) -> None:
    keys = [k for k, _, _ in COLUMNS] + ["macro_f1", "auprc_macro", "ece", "brier",
                                         "mistake_severity", "full_path_accuracy"]  # fmt: skip
    keys += [f"level{lv}_{k}" for lv in LEVELS
             for k in ("albums", "accuracy", "balanced_accuracy", "auprc_macro")]  # fmt: skip
    extra = [k for k, _, _ in EXTRA]
    writer.writerow(["model", "kind", "output", "label_space", *keys, *extra,
                     *[f"poster_{k}" for k in keys]])  # fmt: skip
    for r in payload["models"]:
        poster = POSTER.get(r["name"], {})
        writer.writerow([r["name"], r["kind"], r["output"], r["label_space"],
                         *[r["metrics"].get(k) for k in keys], *[r.get(k) for k in extra],
                         *[poster.get(k) for k in keys]])  # fmt: skip


def markdown(payload: dict, headers: list[str], rows: list[list[str]]) -> str:
    """results.md: the table, what was evaluated, the notes and the column legend."""
    lines = ["# hiergenre benchmark", ""]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    lines += ["", "Numbers in parentheses are the poster's reported MuMu results.", ""]
    lines += [f"- {x}" for x in headline(payload)]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in payload["poster_notes"]]
    lines += ["", "## Columns", ""]
    lines += [f"- **{h}**: {d}" for _, h, d in COLUMNS + EXTRA]
    if any(r["metrics"].get("level1_albums") for r in payload["models"]):
        lines += ["", "## Per level", ""]
        level_headers, level_rows = level_table(payload)
        lines += ["| " + " | ".join(level_headers) + " |", "|" + "---|" * len(level_headers)]
        lines += ["| " + " | ".join(row) + " |" for row in level_rows]
        lines += ["", level_albums(payload) + " The greedy top-down path's level-L node is "
                  "right when it is one of the album's level-L genres; bal.acc is the mean of "
                  "the classes' hit rates; mAUPRC is the macro AUPRC over that level's "
                  "genres."]  # fmt: skip
    lines += ["", "## Training settings (CPU-sized)", ""]
    for r in payload["models"]:
        if r["kind"] == "model":
            p = r["plan"]
            size = f"{p['image_size']} px" if p["image_size"] else "the encoder's native size"
            lines.append(f"- {r['name']}: {p['epochs']} epochs (ran {r['epochs_run']}, best "
                         f"{r['best_epoch']}), {size}, batch {p['batch_size']}, "
                         f"lr {p['lr']}, options {p['options']}")  # fmt: skip
    return "\n".join(lines) + "\n"
