"""The one seam between the predictor and the training package: open a run, run its model on
pixels, decode paths, each through the package's one inference path (`hiergenre.inference`,
`hiergenre.predict.top_paths`), so the predictor, `hiergenre predict` and the web API give the
numbers `evaluate` scores.

    open_run(run_dir, which, device) -> train.LoadedRun
    forward(run, pixels uint8 (B, S, S, 3), device) -> coherent node probabilities (B, num_nodes)
    paths(run, node_probs (B, num_nodes), options) -> [[{"path", "probs", "score"}]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def open_run(run_dir: Path, which: str, device: str):
    """Load a run's model once (eval mode) on `device` (a `hiergenre.train.LoadedRun`)."""
    from hiergenre.train import load_run

    return load_run(run_dir, which=which, device=device)


def forward(run, pixels: np.ndarray, device: str) -> np.ndarray:
    """uint8 (B, S, S, 3) -> coherent node probabilities (B, num_nodes), float32 numpy."""
    from hiergenre.inference import predict_pixels

    return predict_pixels(run.model, run.preprocess, pixels, batch_size=max(1, len(pixels)),
                          device=device)  # fmt: skip


def paths(run, node_probs: np.ndarray, options) -> list[list[dict]]:
    """The top `options.top_k` paths of each row, never through genres the run did not train on."""
    from hiergenre.predict import top_paths

    return top_paths(node_probs, run.taxonomy, options.top_k, decode=options.decode,
                     threshold=options.threshold, allowed=run.trained_nodes)  # fmt: skip
