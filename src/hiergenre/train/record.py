"""What a run records about itself (`run.json`) and `load_run`, which rebuilds it from its folder.

`run.json` makes a run self-contained: the dataset's resolved absolute path and digest, the
model's `Preprocess`, the nodes present in the training albums (ancestor-closed: what a flat model
trains over by default, and the only genres `predict` proposes), the single-label classes it is
scored on and the nodes its ranking metrics use. The summary, `evaluate` and the benchmark read
the same record, so they score the same albums the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hiergenre.errors import CheckpointError
from hiergenre.evaluate import Scoring, default_classes, scoring_classes
from hiergenre.fileio import atomic_write_json
from hiergenre.inference import Preprocess, preprocess_for
from hiergenre.taxonomy import LabelSpace, Taxonomy

log = logging.getLogger(__name__)
RECORD = "run.json"
RECORD_VERSION = 1


@dataclass(frozen=True)
class RunRecord:
    """The facts a run needs to be scored and used anywhere (see module doc)."""

    data_path: str | None  # resolved absolute path; None: the built-in synthetic set
    data_digest: str
    preprocess: Preprocess
    trained_nodes: tuple[str, ...]
    classes_name: str
    classes: tuple[str, ...]
    scored_nodes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"version": RECORD_VERSION,
                "dataset": {"path": self.data_path, "digest": self.data_digest},
                "preprocess": self.preprocess.to_dict(), "trained_nodes": list(self.trained_nodes),
                "classes": {"name": self.classes_name, "nodes": list(self.classes)},
                "scored_nodes": list(self.scored_nodes)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        """Inverse of `to_dict`."""
        return cls(d["dataset"]["path"], d["dataset"]["digest"],
                   Preprocess.from_dict(d["preprocess"]), tuple(d["trained_nodes"]),
                   d["classes"]["name"], tuple(d["classes"]["nodes"]),
                   tuple(d["scored_nodes"]))  # fmt: skip

    def scoring(self, taxonomy: Taxonomy):
        """The `evaluate.Scoring` of this run."""

        return Scoring(self.classes_space(taxonomy), self.scored_nodes)

    def classes_space(self, taxonomy: Taxonomy) -> LabelSpace:
        """The single-label classes as a LabelSpace."""
        return LabelSpace(self.classes_name, taxonomy, self.classes)

    def save(self, run_dir: str | Path) -> None:
        """Write `<run_dir>/run.json` atomically."""
        atomic_write_json(Path(run_dir) / RECORD, self.to_dict())


def read_record(run_dir: str | Path) -> RunRecord | None:
    """The run's record, or None for a run made before records existed."""
    path = Path(run_dir) / RECORD
    if not path.is_file():
        return None
    try:
        return RunRecord.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is damaged ({exc}): retrain this run") from None


def closed_nodes(label_sets: Sequence[Sequence[str]], taxonomy: Taxonomy) -> tuple[str, ...]:
    """Every node some album carries, ancestors included, in taxonomy order."""
    seen: set[str] = set()
    for labels in label_sets:
        seen |= taxonomy.close(labels)
    return tuple(n for n in taxonomy.names if n in seen)


@dataclass(frozen=True)
class LoadedRun:
    """A trained run ready to use: eval-mode model and everything needed to feed and score it."""

    model: torch.nn.Module
    config: Any  # TrainConfig
    taxonomy: Taxonomy
    label_space: LabelSpace
    preprocess: Preprocess
    trained_nodes: tuple[str, ...]
    classes: LabelSpace
    scored_nodes: tuple[str, ...]
    record: RunRecord | None
    run_dir: Path


def legacy_record(model, config, taxonomy: Taxonomy) -> RunRecord:
    """What a run without run.json is taken to be: its label space trained, scored on it."""

    classes = default_classes(model.label_space)
    nodes = tuple(model.label_space.nodes)
    return RunRecord(config.data.path, "", preprocess_for(model, config.data.image_size), nodes,
                     classes.name, tuple(classes.nodes), nodes)  # fmt: skip


def make_record(model, config, dataset, split) -> RunRecord:
    """The record of a run training `model` on `dataset` with `split` (see module doc)."""

    tax = model.label_space.taxonomy
    labels = dataset.label_sets
    trained = closed_nodes([labels[i] for i in split.rows(dataset, "train")], tax)
    classes = scoring_classes(labels, tax)
    path = None if config.data.path is None else str(Path(config.data.path).resolve())
    return RunRecord(path, dataset.digest, preprocess_for(model, config.data.image_size),
                     trained, classes.name, tuple(classes.nodes),
                     closed_nodes(labels, tax))  # fmt: skip
