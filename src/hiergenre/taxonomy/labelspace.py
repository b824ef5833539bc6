"""Label spaces: named subsets of taxonomy nodes that a flat model predicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from hiergenre.errors import ConfigError, UnknownGenreError
from hiergenre.taxonomy.core import Taxonomy

# The poster's single-label genres (PAPER.md): all level-1 nodes.
KOENIG12 = (
    "Alternative Rock", "Christian", "Classical", "Country", "Dance & Electronic", "Folk",
    "Jazz", "Latin Music", "Metal", "R&B", "Rap & Hip-Hop", "Reggae",
)  # fmt: skip

LABEL_SPACES = ("all", "koenig12", "level1", "oramas250")


@dataclass(frozen=True, eq=False)
class LabelSpace:
    """A named, ordered subset of a taxonomy's nodes (in taxonomy order)."""

    name: str
    taxonomy: Taxonomy
    nodes: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def indices(self) -> np.ndarray:
        """Taxonomy indices of this space's nodes, (size,)."""
        return self.taxonomy.indices(self.nodes)

    def position(self, name: str) -> int:
        return self.nodes.index(self.taxonomy.resolve(name))

    def encode(self, label_sets: Sequence[Iterable[str]], close: bool = True) -> np.ndarray:
        """Multi-hot targets (N, size) float32; with `close`, ancestors of each label count too."""
        pos = {n: i for i, n in enumerate(self.nodes)}
        out = np.zeros((len(label_sets), self.size), dtype=np.float32)
        for row, labels in enumerate(label_sets):
            names = (
                self.taxonomy.close(labels) if close else {self.taxonomy.resolve(x) for x in labels}
            )
            for name in names:
                j = pos.get(name)
                if j is not None:
                    out[row, j] = 1.0
        return out

    def to_nodes(self, scores: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Scatter (N, size) scores into (N, num_nodes) taxonomy order; other nodes get `fill`."""
        out = np.full((scores.shape[0], self.taxonomy.num_nodes), fill, dtype=np.float32)
        out[:, self.indices] = scores
        return out

    def fingerprint(self) -> str:
        return f"{self.name}:{self.taxonomy.digest}:{self.size}"


def _shipped_names(filename: str) -> list[str]:
    text = resources.files("hiergenre.taxonomy").joinpath(filename).read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def get_label_space(name: str, taxonomy: Taxonomy) -> LabelSpace:
    """Build a named label space (`all`, `koenig12`, `level1`, `oramas250`) on a taxonomy."""
    if name == "all":
        nodes = list(taxonomy.names)
    elif name == "level1":
        nodes = [n for n, lv in zip(taxonomy.names, taxonomy.levels, strict=False) if lv == 1]
    elif name in ("koenig12", "oramas250"):
        wanted = KOENIG12 if name == "koenig12" else _shipped_names("oramas250.txt")
        resolved = [taxonomy.try_resolve(n) for n in wanted]
        missing = [n for n, r in zip(wanted, resolved, strict=False) if r is None]
        if missing:
            raise UnknownGenreError(missing)
        chosen = set(resolved)
        nodes = [n for n in taxonomy.names if n in chosen]
    else:
        raise ConfigError(f"unknown label space {name!r}: choose one of {', '.join(LABEL_SPACES)}")
    return LabelSpace(name, taxonomy, tuple(nodes))


def single_label_subset(
    label_sets: Sequence[Iterable[str]], space: LabelSpace, close: bool = True
) -> np.ndarray:
    """The poster's single-label rule: class index per album, -1 unless EXACTLY ONE class is in.

    With `close`, labels are first closed under ancestors (a collection labelled only with leaves
    still has level-1 genres); `close=False` counts only the strings an album carries, as the poster
    did on MuMu, whose label lists already hold the level-1 genre.
    Example: space koenig12, labels [{'Jazz'}, {'Jazz', 'Folk'}, {'Pop'}] -> [6, -1, -1].
    """
    pos = {n: i for i, n in enumerate(space.nodes)}
    tax = space.taxonomy
    out = np.full(len(label_sets), -1, dtype=np.int64)
    for row, labels in enumerate(label_sets):
        names = tax.close(labels) if close else {tax.try_resolve(x) for x in labels}
        hits = {pos[r] for r in names if r in pos}
        if len(hits) == 1:
            out[row] = hits.pop()
    return out
