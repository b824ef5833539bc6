"""`evaluate_run`: score a trained run again, through the same path its summary used.

On its own test part it reproduces `summary.json`'s test metrics (same rows, same preprocessing,
same `inference.predict_rows`, same `evaluate.score_node_probs`, same classes and scored nodes
from the run's record). With `data`, every album of another dataset is scored, and the result
says so and lists the genres the run never saw in training.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hiergenre.errors import DataError

log = logging.getLogger(__name__)


def score_rows(run, dataset, rows: np.ndarray, device: str = "cpu", *, classes=None,
               present=None) -> tuple[dict, np.ndarray, np.ndarray, float]:  # fmt: skip
    """Metrics of a LoadedRun on dataset rows (decoded covers only), with node probs (M, N),
    the rows scored (M,) and the forward seconds."""
    from hiergenre.data.store import ImageStore
    from hiergenre.evaluate import TASK_OF_OUTPUT, score_node_probs
    from hiergenre.inference import predict_rows

    store = ImageStore.open_or_build(dataset, run.preprocess.size)
    probs, kept, seconds = predict_rows(run.model, run.preprocess, store, rows, device=device)
    label_sets = dataset.label_sets  # a property that builds the list: once, not per album
    labels = [label_sets[i] for i in kept]
    metrics = score_node_probs(
        probs, run.label_space, labels, run.taxonomy, TASK_OF_OUTPUT[run.model.output],
        classes=classes if classes is not None else run.classes,
        present=present if present is not None else run.scored_nodes,
        thresholds=getattr(run.model, "decode_thresholds", None),
    )  # fmt: skip
    return metrics, probs, kept, seconds


SPEED_SAMPLE = 64  # covers timed through the whole model (after a warm-up batch)


def model_speed(run, dataset, rows: np.ndarray, device: str = "cpu"):
    """`inference.Speed` of a run's whole model (encoder included) on up to `SPEED_SAMPLE` of
    the dataset's decoded covers `rows`: the one speed number of `evaluate` and the benchmark's
    img/s column, measured the same way for every model (warm, batch size recorded). Scoring
    time says nothing about it: a frozen encoder's scores read cached features, and the first
    forward of a process is several times slower than the next."""
    from hiergenre.data.store import ImageStore
    from hiergenre.inference import measure_speed

    store = ImageStore.open_or_build(dataset, run.preprocess.size)
    rows = store.usable(np.sort(np.asarray(rows, dtype=np.int64)))[:SPEED_SAMPLE]
    return measure_speed(run.model, run.preprocess, np.asarray(store.images[rows]), device=device)


def run_dataset(run):
    """The run's own dataset from its record (absolute path, checked against its digest)."""
    from hiergenre.data import resolve_dataset

    path = run.record.data_path if run.record else run.config.data.path
    if path is not None and not Path(path).is_dir():
        raise DataError(
            f"the run's dataset {path} is gone: restore it, or pass --data to score another"
        )
    dataset = resolve_dataset(path, run.taxonomy)
    if run.record and run.record.data_digest and dataset.digest != run.record.data_digest:
        raise DataError(
            f"the dataset at {dataset.root} changed since {run.run_dir} was trained "
            "(its digest differs): its test part is no longer the run's; pass --data to score "
            "every album of it instead"
        )
    return dataset


def evaluate_run(run_dir, data: str | None = None, device: str = "cpu") -> dict:
    """Re-evaluate a trained run: on its own split's test part, or on every album of `data`."""
    from hiergenre.data import Split, load_dataset
    from hiergenre.evaluate import scoring_classes
    from hiergenre.train.record import closed_nodes
    from hiergenre.train.runs import load_run

    run = load_run(run_dir, device=device)
    extra: dict = {}
    if data is None:
        dataset = run_dataset(run)
        rows = Split.load(Path(run_dir) / "split.json").rows(dataset, "test")
        metrics, _, kept, _ = score_rows(run, dataset, rows, device)
    else:
        dataset = load_dataset(data, run.taxonomy)
        rows = np.arange(len(dataset))
        present = closed_nodes(dataset.label_sets, run.taxonomy)
        classes = scoring_classes(dataset.label_sets, run.taxonomy)
        unseen = [n for n in present if n not in set(run.trained_nodes)]
        extra = {"note": f"scoring every album of {dataset.root} ({len(dataset)} albums), "
                         "training albums included if it is the run's own dataset",
                 "unseen_genres": unseen}  # fmt: skip
        if unseen:
            log.warning("%d genres of %s never occur in the run's training albums: %s",
                        len(unseen), dataset.root, ", ".join(unseen[:8]))  # fmt: skip
        metrics, _, kept, _ = score_rows(run, dataset, rows, device, classes=classes,
                                               present=present)  # fmt: skip
    speed = model_speed(run, dataset, kept, device) if len(kept) else None
    metrics.update({"run_dir": str(run_dir), "model_name": run.config.model.name,
                    "dataset": str(dataset.root), "part": "all" if data else "test",
                    "images_per_s": speed and speed.images_per_s,
                    "speed_batch_size": speed and speed.batch_size, **extra})  # fmt: skip
    return metrics
