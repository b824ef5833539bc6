"""Benchmark plots are written as real PNG files from small inputs."""

from __future__ import annotations

import numpy as np
from PIL import Image

from hiergenre import plots


def _is_png(path) -> bool:
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 100


def test_each_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random((30, 5)) < 0.3).astype(int)
    s = np.clip(y * 0.4 + rng.random((30, 5)) * 0.6, 0, 1)
    a = plots.pr_curves({"m": (y, s)}, {"g": (y[:, 0], s[:, 0])}, tmp_path / "pr.png", "m")
    b = plots.confusion(np.array([[3, 1], [0, 2]]), ["A", "B"], tmp_path / "cm.png", "t")
    c = plots.level_accuracy({"flat": {1: 0.8, 2: 0.4}, "hier": {"1": 0.8, "2": 0.5}},
                             tmp_path / "lv.png")  # fmt: skip
    assert all(_is_png(p) for p in (a, b, c))


def test_benchmark_plots_from_results(tmp_path):
    y = np.array([[1, 0], [0, 1], [1, 1]])
    s = np.array([[0.9, 0.2], [0.3, 0.8], [0.6, 0.4]])
    payload = {"models": [
        {"name": "koenig-singlelabel", "metrics": {"confusion": [[2, 0], [1, 1]],
         "classes": ["A", "B"], "accuracy": 0.75, "balanced_accuracy": 0.75}},
        {"name": "hierarchical", "metrics": {"level1_albums": 3, "level1_accuracy": 1.0,
         "level2_albums": 2, "level2_accuracy": 0.5, "level3_albums": 0, "level3_accuracy": None,
         "depth_curve": {"threshold": [0.0, 0.5, 0.9], "named": [1.0, 0.4, 0.0],
                         "precision": [0.3, 0.5, None]}}},
    ]}  # fmt: skip
    # the level bars come from level<L>_accuracy, levels without albums left out
    assert plots.level_accuracies(payload["models"][1]["metrics"]) == {1: 1.0, 2: 0.5}
    written = plots.benchmark_plots(payload, tmp_path, {"hierarchical": (y, s, ("A", "B"))})
    names = sorted(p.name for p in written)
    assert names == [
        "confusion_singlelabel.png",
        "level_accuracy.png",
        "pr_curves.png",
        "precision_vs_depth.png",
    ]
    assert all(_is_png(p) for p in written)
