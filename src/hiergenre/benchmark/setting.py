"""The fixed setting every benchmark model shares: dataset, saved split, label spaces, classes.

A dataset whose labels cover only a few level-1 genres (an import of Discogs covers has five) is
handled by evaluating over what is present: the single-label classes are the poster's 12 genres
when all of them occur, else the level-1 genres that occur; ranking metrics use only the nodes
that some album carries (after ancestor closure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hiergenre.data import Split, make_split, resolve_dataset
from hiergenre.errors import DataError
from hiergenre.evaluate import scoring_classes
from hiergenre.taxonomy import (
    KOENIG12,
    LabelSpace,
    Taxonomy,
    get_label_space,
    load_taxonomy,
    single_label_subset,
)

log = logging.getLogger(__name__)
SPLIT_MODE = "multilabel"
MIN_SINGLE_CLASSES = 2


@dataclass(frozen=True)
class Setting:
    """What all models of one benchmark share."""

    taxonomy: Taxonomy
    dataset: object  # hiergenre.data.Dataset
    data_path: str | None
    data_name: str
    split: Split  # the one split every model trains on (what `split_path` holds)
    split_path: Path
    train_rows: np.ndarray
    test_rows: np.ndarray
    label_sets: list[list[str]]
    all_space: LabelSpace
    classes: LabelSpace  # the single-label classes every model is scored on
    single_space_name: str  # the label space the single-label model trains on
    present: tuple[str, ...]  # nodes some album carries (closed)

    def describe(self) -> dict:
        """JSON-ready summary: the dataset, split sizes and what was evaluated."""
        ids = single_label_subset([self.label_sets[i] for i in self.test_rows], self.classes)
        return {
            "dataset": self.data_name,
            "data_path": self.data_path,
            "albums": len(self.label_sets),
            "split": str(self.split_path.name),
            "split_mode": SPLIT_MODE,
            "train_albums": len(self.train_rows),
            "test_albums": len(self.test_rows),
            "test_single_label_albums": int((ids >= 0).sum()),
            "classes_name": self.classes.name,
            "classes": list(self.classes.nodes),
            "single_label_space": self.single_space_name,
            "present_nodes": len(self.present),
            "taxonomy_nodes": self.taxonomy.num_nodes,
        }


def choose_classes(label_sets: list[list[str]], taxonomy: Taxonomy) -> tuple[LabelSpace, str]:
    """The single-label classes and the label space the single-label model trains on."""

    classes = scoring_classes(label_sets, taxonomy)
    if classes.name == "koenig12":
        return classes, "koenig12"
    if classes.size < MIN_SINGLE_CLASSES:
        raise DataError(
            "the dataset has fewer than 2 level-1 genres with single-label albums: "
            "a single-label benchmark needs at least 2"
        )
    missing = [g for g in KOENIG12 if taxonomy.try_resolve(g) not in classes.nodes]
    log.info("single-label classes: %d level-1 genres present (%d of the poster's 12 absent)",
             classes.size, len(missing))  # fmt: skip
    return classes, "level1"


def make_setting(config, out: Path, progress=None, split: Split | None = None) -> Setting:
    """Load the dataset, take `split` (saved to `out/split.json`) or make (or reuse) the one split
    there, and fix the label spaces."""

    taxonomy = load_taxonomy()
    dataset = resolve_dataset(config.data, taxonomy)
    split_path = out / "split.json"
    if split is not None:
        split.save(split_path)
    elif split_path.is_file():
        split = Split.load(split_path)
        if (
            split.dataset_digest
            and split.dataset_digest != dataset.digest
            or split.seed != config.seed
        ):
            split = None
    if split is None:
        split = make_split(dataset, SPLIT_MODE, seed=config.seed, taxonomy=taxonomy)
        split.save(split_path)
    label_sets = dataset.label_sets
    classes, single_space = choose_classes(label_sets, taxonomy)
    present = set()
    for labels in label_sets:
        present |= taxonomy.close(labels)
    data_path = None if config.data is None else str(Path(config.data).resolve())
    name = "built-in synthetic covers" if config.data is None else Path(config.data).name
    return Setting(
        taxonomy=taxonomy, dataset=dataset, data_path=data_path, data_name=name, split=split,
        split_path=split_path.resolve(), train_rows=split.rows(dataset, "train"),
        test_rows=split.rows(dataset, "test"), label_sets=label_sets,
        all_space=get_label_space("all", taxonomy), classes=classes,
        single_space_name=single_space, present=tuple(n for n in taxonomy.names if n in present),
    )  # fmt: skip
