"""Describing a taxonomy for people: one genre in context (`explain_genre`) and the whole tree
(`taxonomy_stats`). Plain dataclasses out; the CLI renders them with rich or as JSON."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from hiergenre.errors import ConfigError
from hiergenre.taxonomy.aliases import normalize_genre
from hiergenre.taxonomy.core import Taxonomy

logger = logging.getLogger(__name__)

_LISTED = 8  # children named in the sentence about the head


@dataclass(frozen=True)
class AlbumCounts:
    """Albums per node of a dataset, closed under ancestors (Indie Rock albums count for Rock)."""

    source: str
    albums: int
    per_node: dict[str, int]


@dataclass(frozen=True)
class TreeNode:
    """A node of the displayed subtree; `hidden` counts descendants cut off by the depth limit."""

    name: str
    level: int
    num_children: int
    num_leaves: int
    albums: int | None
    hidden: int
    children: tuple[TreeNode, ...]


@dataclass(frozen=True)
class GenreExplanation:
    """Everything `explain-taxonomy` shows about one node (the root included, at level 0)."""

    query: str
    name: str
    root: str
    path: tuple[str, ...]  # root first, the node last
    level: int
    max_level: int  # the taxonomy's depth
    parent: str | None
    children: tuple[str, ...]
    siblings: tuple[str, ...]
    num_descendants: int
    num_leaves: int  # leaves below the node (0 for a leaf)
    is_leaf: bool
    head: str  # what a hierarchical model learns here, in one sentence
    head_size: int  # outputs of the per-branch head at this node (0 for a leaf)
    depth: int
    hidden: int  # nodes of the subtree not shown because of `depth`
    tree: TreeNode
    albums: int | None
    data: AlbumCounts | None

    def to_dict(self) -> dict:
        """JSON-ready form (the `--json` output)."""
        return dataclasses.asdict(self)


def _resolve_node(taxonomy: Taxonomy, genre: str) -> str:
    """Node for a query; the root's own name (any spelling) is accepted too."""
    if normalize_genre(genre) == normalize_genre(taxonomy.root):
        return taxonomy.root
    return taxonomy.resolve(genre)


def _build_tree(
    taxonomy: Taxonomy, node: str, depth: int, counts: AlbumCounts | None, level: int
) -> TreeNode:
    kids = taxonomy.children(node)
    below = taxonomy.descendants(node)
    leaves = sum(1 for n in below if taxonomy.is_leaf(n))
    shown = (
        tuple(_build_tree(taxonomy, k, depth - 1, counts, level + 1) for k in kids) if depth else ()
    )
    hidden = 0 if depth else len(below)
    albums = None
    if counts is not None:
        albums = counts.albums if node == taxonomy.root else counts.per_node.get(node, 0)
    return TreeNode(node, level, len(kids), leaves, albums, hidden, shown)


def _total_hidden(tree: TreeNode) -> int:
    return tree.hidden + sum(_total_hidden(c) for c in tree.children)


def _head_sentence(taxonomy: Taxonomy, node: str, kids: list[str]) -> str:
    if kids:
        named = ", ".join(kids[:_LISTED]) + (
            f" and {len(kids) - _LISTED} more" if len(kids) > _LISTED else ""
        )
        where = "the top-level head" if node == taxonomy.root else "a per-branch head"
        return f"{where} over its {len(kids)} children: {named}"
    parent = taxonomy.parent(node)
    return (
        f"a leaf: no head; predicted as a child of {parent} "
        f"(one of the {len(taxonomy.children(parent))} classes of {parent}'s head)"
    )


def explain_genre(
    taxonomy: Taxonomy, genre: str, depth: int = 2, counts: AlbumCounts | None = None
) -> GenreExplanation:
    """Explain one genre (any spelling or alias; the root's name too) in its taxonomy."""
    if depth < 0:
        raise ConfigError(f"`depth` must be 0 or more, got {depth}")
    node = _resolve_node(taxonomy, genre)
    is_root = node == taxonomy.root
    kids = taxonomy.children(node)
    below = taxonomy.descendants(node)
    tree = _build_tree(taxonomy, node, depth, counts, 0 if is_root else taxonomy.level(node))
    return GenreExplanation(
        query=genre,
        name=node,
        root=taxonomy.root,
        path=(taxonomy.root,) if is_root else (taxonomy.root, *taxonomy.path(node)),
        level=0 if is_root else taxonomy.level(node),
        max_level=taxonomy.depth,
        parent=None if is_root else taxonomy.parent(node),
        children=tuple(kids),
        siblings=() if is_root else tuple(taxonomy.siblings(node)),
        num_descendants=len(below),
        num_leaves=sum(1 for n in below if taxonomy.is_leaf(n)),
        is_leaf=not kids,
        head=_head_sentence(taxonomy, node, kids),
        head_size=len(kids),
        depth=depth,
        hidden=_total_hidden(tree),
        tree=tree,
        albums=tree.albums,
        data=counts,
    )


# --- whole-tree statistics -------------------------------------------------------------------
@dataclass(frozen=True)
class LevelStats:
    """One level of the tree (level 0 is the root); branching is over its internal nodes."""

    level: int
    nodes: int
    leaves: int
    internal: int
    children_min: int | None
    children_mean: float | None
    children_max: int | None


@dataclass(frozen=True)
class TaxonomyStats:
    """Shape of a taxonomy: per-level counts and branching, and its largest branches."""

    root: str
    num_nodes: int
    depth: int
    num_leaves: int
    num_branches: int
    digest: str
    levels: tuple[LevelStats, ...]
    largest: tuple[dict, ...]  # {name, level, children, descendants, leaves}, biggest first

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def taxonomy_stats(taxonomy: Taxonomy, top: int = 10) -> TaxonomyStats:
    """Nodes, leaves and branching per level; the `top` internal nodes with the most descendants."""
    graph = taxonomy.graph
    level_of = {
        taxonomy.root: 0,
        **dict(zip(taxonomy.names, map(int, taxonomy.levels), strict=True)),
    }
    rows = []
    for lv in range(taxonomy.depth + 1):
        nodes = [n for n, v in level_of.items() if v == lv]
        fan = np.array([graph.out_degree(n) for n in nodes])
        inner = fan[fan > 0]
        rows.append(
            LevelStats(
                level=lv,
                nodes=len(nodes),
                leaves=int((fan == 0).sum()),
                internal=len(inner),
                children_min=int(inner.min()) if len(inner) else None,
                children_mean=round(float(inner.mean()), 3) if len(inner) else None,
                children_max=int(inner.max()) if len(inner) else None,
            )
        )
    branches = []
    for b in taxonomy.branches:
        if b.index < 0:
            continue
        below = taxonomy.descendants(b.name)
        leaves = sum(1 for n in below if graph.out_degree(n) == 0)
        branches.append(
            {"name": b.name, "level": level_of[b.name], "children": b.size,
             "descendants": len(below), "leaves": leaves}
        )  # fmt: skip
    branches.sort(key=lambda d: (-d["descendants"], -d["children"], d["name"]))
    return TaxonomyStats(
        root=taxonomy.root,
        num_nodes=taxonomy.num_nodes,
        depth=taxonomy.depth,
        num_leaves=len(taxonomy.leaves),
        num_branches=len(taxonomy.branches),
        digest=taxonomy.digest,
        levels=tuple(rows),
        largest=tuple(branches[:top]),
    )
