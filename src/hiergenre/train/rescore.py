"""`evaluate_run`: score a trained run again, through the same path its summary used.

On its own test part it reproduces `summary.json`'s test metrics (same rows, same preprocessing,
same `inference.predict_rows`, same `evaluate.score_node_probs`, same classes and scored nodes
from the run's record). With `data`, the albums of another dataset are scored, except those
whose cover is one of the run's train or dev covers (found by content, as `data import` finds
duplicates; `include_train` keeps them); the result counts them and lists the genres the run
never saw in training.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hiergenre.data import Split, load_dataset, resolve_dataset
from hiergenre.data.importer import covers_among
from hiergenre.data.store import ImageStore
from hiergenre.errors import DataError
from hiergenre.evaluate import TASK_OF_OUTPUT, score_node_probs, scoring_classes
from hiergenre.inference import measure_speed, predict_rows
from hiergenre.train.record import closed_nodes
from hiergenre.train.runs import load_run

log = logging.getLogger(__name__)


def score_rows(run, dataset, rows: np.ndarray, device: str = "cpu", *, classes=None,
               present=None) -> tuple[dict, np.ndarray, np.ndarray, float]:  # fmt: skip
    """Metrics of a LoadedRun on dataset rows (decoded covers only), with node probs (M, N),
    the rows scored (M,) and the forward seconds."""

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

    store = ImageStore.open_or_build(dataset, run.preprocess.size)
    rows = store.usable(np.sort(np.asarray(rows, dtype=np.int64)))[:SPEED_SAMPLE]
    return measure_speed(run.model, run.preprocess, np.asarray(store.images[rows]), device=device)


def run_dataset(run):
    """The run's own dataset from its record (absolute path, checked against its digest)."""

    path = run.record.data_path if run.record else run.config.data.path
    if path is not None and not Path(path).is_dir():
        raise DataError(
            f"the run's dataset {path} is gone: restore it, or pass `data` to score another"
        )
    dataset = resolve_dataset(path, run.taxonomy)
    if run.record and run.record.data_digest and dataset.digest != run.record.data_digest:
        raise DataError(
            f"the dataset at {dataset.root} changed since {run.run_dir} was trained "
            "(its digest differs): its test part is no longer the run's; pass `data` to score "
            "every album of it instead"
        )
    return dataset


def training_covers(run, dataset) -> np.ndarray:
    """Rows of `dataset` whose cover is one the run trained or chose its model on (its train and
    dev parts), found by content (`data.importer.covers_among`), whatever their names or ids."""

    own = run_dataset(run)
    split = Split.load(Path(run.run_dir) / "split.json")
    paths = own.image_paths()
    seen = [paths[i] for part in ("train", "dev") for i in split.rows(own, part)]
    return covers_among(seen, dataset.image_paths())


def _other_rows(run, dataset, include_train: bool) -> tuple[np.ndarray, dict]:
    """The rows of another dataset to score, and what the result says about the run's covers."""
    rows = np.arange(len(dataset))
    try:
        seen = training_covers(run, dataset)
    except DataError as exc:  # the run's dataset is gone or changed: nothing to compare with
        note = f"scoring every album of {dataset.root} ({len(dataset)}); cannot tell which hold "
        return rows, {"note": note + f"the run's training covers: {exc}", "part": "all"}
    found = f"{len(seen)} albums of {dataset.root} hold covers of the run's train or dev part"
    if include_train:
        note = f"scoring every album of {dataset.root} ({len(dataset)}); {found}, kept"
    else:
        rows = np.setdiff1d(rows, seen)
        note = (f"scoring {len(rows)} of {len(dataset)} albums of {dataset.root}; {found}, left "
                "out (--include-train keeps them)")  # fmt: skip
        if len(rows) == 0:
            raise DataError(f"{found}: all of them, so none is left to score; pass "
                            "`include_train` to score them anyway")  # fmt: skip
    part = "all" if len(rows) == len(dataset) else "all but the run's training covers"
    return rows, {"note": note, "training_covers": len(seen), "part": part}


def evaluate_run(run_dir, data: str | None = None, device: str = "cpu", *,
                 include_train: bool = False) -> dict:  # fmt: skip
    """Re-evaluate a trained run: on its own split's test part, or on the albums of `data` (its
    covers of the run's train and dev parts left out unless `include_train`)."""

    run = load_run(run_dir, device=device)
    extra: dict = {}
    if data is None:
        dataset = run_dataset(run)
        rows = Split.load(Path(run_dir) / "split.json").rows(dataset, "test")
        metrics, _, kept, _ = score_rows(run, dataset, rows, device)
    else:
        dataset = load_dataset(data, run.taxonomy)
        rows, extra = _other_rows(run, dataset, include_train)
        label_sets = dataset.label_sets
        scored = [label_sets[i] for i in rows]
        present = closed_nodes(scored, run.taxonomy)
        classes = scoring_classes(scored, run.taxonomy)
        unseen = [n for n in present if n not in set(run.trained_nodes)]
        extra["unseen_genres"] = unseen
        if unseen:
            log.warning("%d genres of %s never occur in the run's training albums: %s",
                        len(unseen), dataset.root, ", ".join(unseen[:8]))  # fmt: skip
        metrics, _, kept, _ = score_rows(run, dataset, rows, device, classes=classes,
                                               present=present)  # fmt: skip
    speed = model_speed(run, dataset, kept, device) if len(kept) else None
    metrics.update({"run_dir": str(run_dir), "model_name": run.config.model.name,
                    "dataset": str(dataset.root), "part": extra.pop("part", "test"),
                    "images_per_s": speed and speed.images_per_s,
                    "speed_batch_size": speed and speed.batch_size, **extra})  # fmt: skip
    return metrics
