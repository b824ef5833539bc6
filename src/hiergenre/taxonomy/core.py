"""The genre taxonomy: an immutable tree over a networkx DiGraph with a fixed node order.

Every model in the project returns probabilities over `Taxonomy.names` (root excluded), in this
order. The order is breadth-first with children sorted by name, so the children of every internal
node occupy one contiguous index range: a per-branch head is a slice, not a gather.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import networkx as nx
import numpy as np

from hiergenre.errors import ConfigError, UnknownGenreError
from hiergenre.taxonomy.aliases import AliasResolver
from hiergenre.taxonomy.table import (
    GenreRow,
    format_table,
    read_aliases,
    read_table,
    validate_rows,
)


@dataclass(frozen=True)
class Branch:
    """An internal node and the contiguous index range [start, stop) of its children.

    `index` is the node's own index, or -1 for the root (the top-level head).
    """

    name: str
    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


class Taxonomy:
    """A rooted genre tree of at most 4 levels. Build with `load_taxonomy` or `from_parents`."""

    def __init__(self, root: str, parent_of: dict[str, str], aliases: dict[str, str] | None = None):
        graph = nx.DiGraph()
        graph.add_node(root)
        graph.add_edges_from((parent, child) for child, parent in parent_of.items())
        order: list[str] = []
        frontier = [root]
        while frontier:  # breadth-first, children by name: siblings are contiguous
            nxt: list[str] = []
            for node in frontier:
                kids = sorted(graph.successors(node))
                order.extend(kids)
                nxt.extend(kids)
            frontier = nxt
        self._graph = nx.freeze(graph)
        self.root = root
        self.names: tuple[str, ...] = tuple(order)
        self._index = {name: i for i, name in enumerate(order)}
        parents = [parent_of[name] for name in order]
        self.parent_index = np.array([self._index.get(p, -1) for p in parents], dtype=np.int64)
        levels = np.zeros(len(order), dtype=np.int64)
        for i, p in enumerate(self.parent_index):  # parents precede children in BFS order
            levels[i] = 1 if p < 0 else levels[p] + 1
        self.levels = levels
        usable = {k: v for k, v in (aliases or {}).items() if v in self._index}
        self._resolver = AliasResolver(order, usable)
        self._aliases = dict(usable)
        self.parent_index.setflags(write=False)
        self.levels.setflags(write=False)

    @classmethod
    def from_parents(cls, parent_of: dict[str, str], aliases: dict[str, str] | None = None):
        """Build from child -> parent pairs (validated like a file)."""
        rows = [GenreRow(c, p, i + 2) for i, (c, p) in enumerate(parent_of.items())]
        root, checked = validate_rows(rows, "<parents>")
        return cls(root, checked, aliases)

    # --- size and order -------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        """Number of genre nodes (the root is not a genre and not counted)."""
        return len(self.names)

    @property
    def depth(self) -> int:
        return int(self.levels.max()) if self.num_nodes else 0

    @property
    def graph(self) -> nx.DiGraph:
        """A frozen view of the tree (edges parent -> child, root included)."""
        return self._graph

    def index(self, name: str) -> int:
        """Index of a node in the fixed order; accepts any alias or spelling."""
        return self._index[self.resolve(name)]

    def indices(self, names: Iterable[str]) -> np.ndarray:
        return np.array([self.index(n) for n in names], dtype=np.int64)

    @cached_property
    def digest(self) -> str:
        """Short content hash: checkpoints refuse to load into a taxonomy with another digest."""
        text = "\n".join(f"{n}\t{self.parent(n)}" for n in self.names)
        return hashlib.sha256(f"{self.root}\n{text}".encode()).hexdigest()[:16]

    # --- names ----------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """The node for any spelling of a genre; raises UnknownGenreError with suggestions."""
        if name in self._index:
            return name
        found = self._resolver.resolve(name)
        if found is None:
            raise UnknownGenreError([name], {name: self._resolver.suggest(name)})
        return found

    def try_resolve(self, name: str) -> str | None:
        return name if name in self._index else self._resolver.resolve(name)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        return self._resolver.suggest(name, n)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.try_resolve(name) is not None

    # --- structure ------------------------------------------------------------------------
    def level(self, name: str) -> int:
        return int(self.levels[self.index(name)])

    def parent(self, name: str) -> str:
        """The parent's name (the root's name for a level-1 genre)."""
        p = self.parent_index[self.index(name)]
        return self.root if p < 0 else self.names[p]

    def children(self, name: str) -> list[str]:
        node = self.root if name == self.root else self.resolve(name)
        return sorted(self._graph.successors(node))

    def siblings(self, name: str) -> list[str]:
        node = self.resolve(name)
        return [c for c in self.children(self.parent(node)) if c != node]

    def ancestors(self, name: str) -> list[str]:
        """Ancestors from level 1 down to the parent (root and the node itself excluded)."""
        node, out = self.resolve(name), []
        p = self.parent_index[self._index[node]]
        while p >= 0:
            out.append(self.names[p])
            p = self.parent_index[p]
        return out[::-1]

    def path(self, name: str) -> list[str]:
        """Level-1 genre down to the node itself: `['Rock', ..., name]`."""
        node = self.resolve(name)
        return [*self.ancestors(node), node]

    def descendants(self, name: str) -> list[str]:
        node = self.root if name == self.root else self.resolve(name)
        found = nx.descendants(self._graph, node)
        return [n for n in self.names if n in found]

    def is_leaf(self, name: str) -> bool:
        return self._graph.out_degree(self.resolve(name)) == 0

    @cached_property
    def leaves(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if self._graph.out_degree(n) == 0)

    @cached_property
    def branches(self) -> tuple[Branch, ...]:
        """Root and every internal node, each with the index range of its children."""
        out = []
        for node in (self.root, *self.names):
            kids = list(self._graph.successors(node))
            if kids:
                idx = sorted(self._index[k] for k in kids)
                assert idx[-1] - idx[0] + 1 == len(idx), "BFS order keeps siblings contiguous"
                own = -1 if node == self.root else self._index[node]
                out.append(Branch(node, own, idx[0], idx[-1] + 1))
        return tuple(out)

    def close(self, labels: Iterable[str]) -> set[str]:
        """Ancestor closure of a label set: every label plus all its ancestors."""
        out: set[str] = set()
        for label in labels:
            out.update(self.path(label))
        return out

    @cached_property
    def _ancestry(self) -> np.ndarray:
        n = self.num_nodes
        mat = np.eye(n, dtype=bool)
        for i in range(n):  # parents come first in BFS order, so their rows are complete
            p = self.parent_index[i]
            if p >= 0:
                mat[i] |= mat[p]
        mat.setflags(write=False)
        return mat

    def ancestry_array(self) -> np.ndarray:
        """Read-only bool (num_nodes, num_nodes): `A[i, j]` iff node j is node i or an ancestor
        of i (as torch tensors: `hiergenre.tree.tree_tensors`)."""
        return self._ancestry

    @cached_property
    def _shared(self) -> np.ndarray:
        anc = self._ancestry.astype(np.int64)
        return anc @ anc.T  # number of common ancestors-or-self = depth of the LCA

    @cached_property
    def _distances(self) -> np.ndarray:
        lv = self.levels
        out = lv[:, None] + lv[None, :] - 2 * self._shared
        out.setflags(write=False)
        return out

    def distance_matrix(self) -> np.ndarray:
        """Read-only int (num_nodes, num_nodes): edges on the path between every two nodes."""
        return self._distances

    def lca(self, a: str, b: str) -> str:
        """Lowest common ancestor (the root's name when they share no genre)."""
        common = [x for x, y in zip(self.path(a), self.path(b), strict=False) if x == y]
        return common[-1] if common else self.root

    def tree_distance(self, a: str, b: str) -> int:
        """Number of edges on the path between two nodes."""
        return int(self._distances[self.index(a), self.index(b)])

    def lca_height(self, a: str, b: str) -> int:
        """Bertinetto et al.'s mistake severity: the height of LCA(a, b) above the deeper node."""
        return int(self._lca_heights[self.index(a), self.index(b)])

    @cached_property
    def _lca_heights(self) -> np.ndarray:
        lv = self.levels
        out = np.maximum(lv[:, None], lv[None, :]) - self._shared
        out.setflags(write=False)
        return out

    def lca_height_matrix(self) -> np.ndarray:
        """(num_nodes, num_nodes) int matrix of `lca_height` for every pair of nodes."""
        return self._lca_heights

    def subtree(self, name: str) -> Taxonomy:
        """The taxonomy below `name`, with `name` as its root."""
        node = self.resolve(name)
        below = set(self.descendants(node))
        parents = {n: self.parent(n) for n in self.names if n in below}
        aliases = {a: t for a, t in self._aliases.items() if t in below}
        return Taxonomy(node, parents, aliases)

    # --- export ---------------------------------------------------------------------------
    def parents_dict(self) -> dict[str, str]:
        return {n: self.parent(n) for n in self.names}

    def to_tsv(self) -> str:
        return format_table(self.parents_dict())

    def to_node_link(self) -> dict:
        """JSON node-link form, each node with its level and index."""
        nodes = [{"id": self.root, "level": 0, "index": -1}]
        nodes += [
            {"id": n, "level": int(lv), "index": i}
            for i, (n, lv) in enumerate(zip(self.names, self.levels, strict=False))
        ]
        links = [{"source": self.parent(n), "target": n} for n in self.names]
        return {"directed": True, "root": self.root, "nodes": nodes, "links": links}

    def save(self, path: str | Path, fmt: str | None = None) -> Path:
        """Write as `tsv`, `json` (node-link) or `graphml`: `fmt`, or else chosen by the suffix."""
        path = Path(path)
        if fmt is not None and fmt.lower() not in ("tsv", "json", "graphml"):
            raise ConfigError(f"unknown taxonomy format {fmt!r}: choose tsv, json or graphml")
        fmt = (fmt or path.suffix.lstrip(".")).lower()
        if fmt == "json":
            path.write_text(json.dumps(self.to_node_link(), indent=1) + "\n", encoding="utf-8")
        elif fmt == "graphml":
            g = nx.DiGraph(self._graph)
            for i, n in enumerate(self.names):
                g.nodes[n].update(level=int(self.levels[i]), index=i)
            g.nodes[self.root].update(level=0, index=-1)
            nx.write_graphml(g, path)
        else:
            path.write_text(self.to_tsv(), encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return f"Taxonomy(root={self.root!r}, num_nodes={self.num_nodes}, depth={self.depth})"


def load_taxonomy(path: str | Path | None = None, aliases: str | Path | None = None) -> Taxonomy:
    """Load a genre table (None: the shipped MuMu taxonomy) with the shipped or given aliases."""
    root, parent_of, _ = read_table(path)
    alias_map = read_aliases(aliases)
    return Taxonomy(root, parent_of, alias_map)
