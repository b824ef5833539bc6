"""Builders the tests share: a tiny taxonomy, a tiny GenreModel, in-memory covers, and a real
dataset directory of PNG covers.

The images carry a learnable signal: each level-1 genre tints its covers' mean colour, so a
few epochs of the tiny model lift dev metrics above chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from hiergenre.models.base import Encoder, GenreModel
from hiergenre.models.heads import HierarchicalHead
from hiergenre.taxonomy import LabelSpace, Taxonomy
from hiergenre.train.inputs import TensorPairs, TrainData, make_targets

PARENTS = {
    "Rock": "Music", "Jazz": "Music", "Pop": "Music",
    "Metal": "Rock", "Punk": "Rock", "Bebop": "Jazz", "Swing": "Jazz", "Synth": "Pop",
}  # fmt: skip
LEAVES = ["Metal", "Punk", "Bebop", "Swing", "Synth"]
TINT = {"Rock": (0.8, 0.2, 0.2), "Jazz": (0.2, 0.8, 0.2), "Pop": (0.2, 0.2, 0.8)}


def tiny_taxonomy() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


@dataclass(frozen=True)
class NetConfig:
    width: int = 8


class NetEncoder(Encoder):
    """conv (stride 2) -> ReLU -> 4x4 pool -> linear -> ReLU -> dropout; no batch statistics, so
    a 2-process DDP run equals a 1-process run up to float error."""

    def __init__(self, width: int = 8, dropout: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Dropout(dropout),
        )  # fmt: skip
        self.feature_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def tiny_model(
    taxonomy: Taxonomy, output: str = "sigmoid", seed: int = 0, dropout: float = 0.2
) -> GenreModel:
    """A small GenreModel: sigmoid over all nodes, softmax over level 1, or hierarchical."""
    torch.manual_seed(seed)
    enc = NetEncoder(dropout=dropout)
    if output == "softmax":
        nodes = tuple(n for n in taxonomy.names if taxonomy.level(n) == 1)
        space = LabelSpace("level1", taxonomy, nodes)
    else:
        space = LabelSpace("all", taxonomy, taxonomy.names)
    if output == "hierarchical":
        head = HierarchicalHead(enc.feature_dim, taxonomy)
    else:
        head = nn.Linear(enc.feature_dim, space.size)
    return GenreModel(enc, head, space, output, NetConfig())


def tiny_covers(n: int = 48, size: int = 32, seed: int = 0) -> tuple[np.ndarray, list[list[str]]]:
    """(n, 3, size, size) float32 images in [0, 1] and one leaf label per album."""
    rng = np.random.default_rng(seed)
    labels, images = [], []
    for i in range(n):
        leaf = LEAVES[i % len(LEAVES)]
        top = PARENTS[leaf]
        tint = np.array(TINT[top], dtype=np.float32)[:, None, None]
        noise = rng.random((3, size, size), dtype=np.float32)
        images.append(np.clip(0.5 * noise + 0.5 * tint + 0.1 * (leaf in ("Punk", "Swing")), 0, 1))
        labels.append([leaf])
    return np.stack(images), labels


def tiny_data(model: GenreModel, n: int = 48, seed: int = 0) -> TrainData:
    """TrainData over in-memory covers: 60% train, 20% dev, 20% test."""
    x, labels = tiny_covers(n, seed=seed)
    targets, keep = make_targets(model.output, model.label_space, labels)
    cut = {"train": slice(0, int(0.6 * n)), "dev": slice(int(0.6 * n), int(0.8 * n)),
           "test": slice(int(0.8 * n), n)}  # fmt: skip
    sets, tgt, label_sets = {}, {}, {}
    for part, sl in cut.items():
        rows = np.arange(n)[sl]
        rows = rows[keep[rows]]
        sets[part] = TensorPairs(torch.from_numpy(x[rows]), targets[rows])
        tgt[part] = targets[rows]
        label_sets[part] = [labels[i] for i in rows]
    return TrainData(sets, tgt, label_sets)


def covers_dataset(tmp_path: Path, n: int = 40) -> Path:
    """A real dataset directory: PNG covers and a manifest over the small taxonomy."""
    root = tmp_path / "covers"
    (root / "img").mkdir(parents=True)
    leaves = ["Metal", "Punk", "Bebop", "Swing"]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        leaf = leaves[i % 4]
        base = (200, 40, 40) if leaf in ("Metal", "Punk") else (40, 200, 40)
        pixels = np.clip(rng.normal(base, 30, (40, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{i}.png")
        rows.append(f"a{i},img/{i}.png,{leaf},artist{i},test")
    (root / "manifest.csv").write_text("album_id,image,labels,group,source\n" + "\n".join(rows))
    (root / "report.json").write_text("{}")
    return root
