"""Deriving a genre table from MuMu's files: Amazon `categories` paths or the multi-label CSV.

Both builders return a `BuildResult` (child -> parent under one artificial root, plus a report of
every decision they made) that `write_table` turns into a TSV `load_taxonomy` accepts.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hiergenre.errors import DataError, TaxonomyError
from hiergenre.taxonomy import mumu
from hiergenre.taxonomy.core import Taxonomy
from hiergenre.taxonomy.table import MAX_DEPTH

logger = logging.getLogger(__name__)

ROOT = "Music"
AMAZON_ROOT = mumu.AMAZON_ROOT
_SHOWN = 5  # examples kept per kind of decision


@dataclass(frozen=True)
class BuildResult:
    """A derived genre table (`parents`: child -> parent, level 1 under `root`) and its report.

    `report` holds counts (`records`, `albums`, `nodes`, ...) and the decisions made: `truncated`
    paths, parent `conflicts` settled by majority vote, `reattached` nodes, `skipped` input.
    """

    root: str
    parents: dict[str, str]
    report: dict = field(default_factory=dict)

    def levels(self) -> dict[str, int]:
        """Level of every node (1 = child of the root)."""
        out: dict[str, int] = {}
        for node in self.parents:
            level, cur = 0, node
            while cur != self.root:
                cur, level = self.parents[cur], level + 1
            out[node] = level
        return out


# --- Amazon metadata -------------------------------------------------------------------------
def _category_paths(rec: dict, where: str, skipped: Counter) -> list[tuple[str, ...]]:
    cats = rec.get("categories")
    if cats is None:
        skipped["record without categories"] += 1
        return []
    if not isinstance(cats, list) or not all(isinstance(p, list | tuple) for p in cats):
        raise DataError(f"{where}: `categories` must be a list of paths (lists of names)")
    out = []
    for raw in cats:
        names = tuple(str(x).strip() for x in raw)
        if not names or names[0] != AMAZON_ROOT:
            skipped["path outside 'CDs & Vinyl'"] += 1
        elif len(names) == 1:
            skipped["path with no genre below 'CDs & Vinyl'"] += 1
        elif any(not n for n in names):
            skipped["path with an empty name"] += 1
        else:
            out.append(names[1:])
    return out


def table_from_metadata(path: str | Path, root: str = ROOT) -> BuildResult:
    """Genre table from Amazon `categories` paths: `CDs & Vinyl` dropped, at most 4 levels kept.

    A name seen under several parents gets the one most albums agree on (ties: by name).
    """
    votes: dict[str, Counter] = defaultdict(Counter)
    skipped: Counter = Counter()
    truncated: list[str] = []
    records = paths = 0
    for i, rec in enumerate(mumu.iter_metadata_records(path)):
        records += 1
        edges: set[tuple[str, str]] = set()  # one vote per album and edge
        for names in _category_paths(rec, f"{path} record {i + 1}", skipped):
            paths += 1
            if len(names) > MAX_DEPTH:
                truncated.append(" > ".join(names))
                names = names[:MAX_DEPTH]
            if root in names:
                skipped[f"path naming the root {root!r}"] += 1
                continue
            edges.update(zip(names, (root, *names[:-1]), strict=False))
        for child, parent in edges:
            votes[child][parent] += 1
    if not votes:
        raise DataError(f"{path}: no usable 'CDs & Vinyl' category paths in {records} records")
    parents, conflicts = _majority_parents(votes)
    reattached = _repair(parents, votes, root)
    report = {
        "source": str(path),
        "records": records,
        "paths": paths,
        "nodes": len(parents),
        "truncated": len(truncated),
        "truncated_examples": truncated[:_SHOWN],
        "conflicts": conflicts,
        "reattached": reattached,
        "skipped": dict(skipped),
    }
    _log_report(report)
    return BuildResult(root, parents, report)


def _majority_parents(votes: dict[str, Counter]) -> tuple[dict[str, str], list[dict]]:
    parents: dict[str, str] = {}
    conflicts = []
    for child in sorted(votes):
        ranked = sorted(votes[child].items(), key=lambda kv: (-kv[1], kv[0]))
        parents[child] = ranked[0][0]
        if len(ranked) > 1:
            conflicts.append({"genre": child, "chosen": ranked[0][0], "votes": dict(ranked)})
    return parents, conflicts


def _reaches(parents: dict[str, str], start: str, target: str, root: str) -> bool:
    """Whether walking up from `start` meets `target` (or loops without reaching the root)."""
    seen = set()
    while start != root:
        if start == target or start in seen:
            return True
        seen.add(start)
        start = parents.get(start, root)
    return False


def _repair(parents: dict[str, str], votes: dict[str, Counter], root: str) -> list[dict]:
    """Break cycles and cut chains deeper than MAX_DEPTH that majority votes can create."""
    reattached = []
    for child in sorted(parents):
        chain, node = [child], parents[child]
        while node != root and node not in chain:
            chain.append(node)
            node = parents[node]
        if node != root:  # a cycle: move its weakest-voted node to its best parent outside it
            cycle = chain[chain.index(node) :]
            weakest = min(cycle, key=lambda n: (votes[n][parents[n]], n))
            others = [
                (-v, p)
                for p, v in votes[weakest].items()
                if not _reaches(parents, p, weakest, root)
            ]
            new = min(others)[1] if others else root
            reattached.append(
                {"genre": weakest, "was": parents[weakest], "now": new, "why": "cycle"}
            )
            parents[weakest] = new
    for child in sorted(parents):
        chain, node = [], child
        while node != root:
            chain.append(node)
            node = parents[node]
        if len(chain) > MAX_DEPTH:  # chain[-1] is level 1; keep the node at level MAX_DEPTH
            new = chain[-(MAX_DEPTH - 1)]
            reattached.append({"genre": child, "was": parents[child], "now": new, "why": "depth"})
            parents[child] = new
    return reattached


# --- MuMu multi-label CSV --------------------------------------------------------------------
def read_label_csv(path: str | Path) -> tuple[dict[str, set[str]], dict]:
    """Albums of MuMu's multi-label CSV (one row per track): amazon_id -> set of genres."""
    parsed, rows, bad = mumu.read_label_csv(path)
    if not parsed:
        raise DataError(f"{path}: no rows with an amazon_id and genres")
    stats: Counter = Counter(rows=rows)
    if bad:
        stats["rows without album id or genres"] = len(bad)
    disagree = sum(a.disagree for a in parsed.values())
    if disagree:
        stats["albums whose tracks disagree (labels united)"] = disagree
    stats["albums"] = len(parsed)
    fragments = sorted({g for a in parsed.values() for g in a.raw_genres if g != g.strip()})
    albums = {aid: set(a.genres) for aid, a in parsed.items()}
    return albums, {"counts": dict(stats), "stripped_fragments": fragments}


def table_from_labels(path: str | Path, root: str = ROOT) -> BuildResult:
    """Genre table from co-occurrence: parent of g = the most specific genre on EVERY album with g.

    "Most specific" = fewest albums (ties: by name) among genres with more albums than g; a genre
    with no such genre hangs on the root. Chains deeper than 4 are cut at level 4.
    """
    albums, read_report = read_label_csv(path)
    names = sorted({g for gs in albums.values() for g in gs})
    col = {g: j for j, g in enumerate(names)}
    hot = np.zeros((len(albums), len(names)), dtype=np.float32)  # float: BLAS matmul, exact < 2**24
    for i, genres in enumerate(albums.values()):
        hot[i, [col[g] for g in genres]] = 1.0
    count = hot.sum(axis=0).astype(np.int64)
    co = (hot.T @ hot).astype(np.int64)  # co[g, h] = albums with both; h on all of g's iff count[g]
    parents: dict[str, str] = {}
    for j, g in enumerate(names):
        cands = [h for h in range(len(names)) if co[j, h] == count[j] and count[h] > count[j]]
        best = min(cands, key=lambda h: (count[h], names[h]), default=None)
        parents[g] = root if best is None else names[best]
    if root in parents:
        raise DataError(f"{path}: a genre is named like the root {root!r}; pass another root")
    reattached = _repair(parents, defaultdict(Counter), root)
    report = {
        "source": str(path),
        **read_report["counts"],
        "nodes": len(parents),
        "albums_per_genre": {g: int(c) for g, c in zip(names, count, strict=False)},
        "stripped_fragments": read_report["stripped_fragments"],
        "reattached": reattached,
    }
    _log_report(report)
    return BuildResult(root, parents, report)


# --- output ----------------------------------------------------------------------------------
def write_table(result: BuildResult, out: str | Path) -> Taxonomy:
    """Validate a built table, write it as TSV (breadth-first order) and return the Taxonomy."""
    taxonomy = Taxonomy.from_parents(result.parents)
    if taxonomy.root != result.root:
        raise TaxonomyError(f"built table has root {taxonomy.root!r}, expected {result.root!r}")
    out = Path(out)
    if not out.parent.is_dir():
        raise DataError(f"output folder {out.parent} does not exist: create it first")
    out.write_text(taxonomy.to_tsv(), encoding="utf-8")  # TSV whatever the suffix
    return taxonomy


def build_table(
    *, metadata: str | Path | None = None, labels: str | Path | None = None, out: str | Path
) -> tuple[BuildResult, Taxonomy]:
    """Build from exactly one source (`metadata` or `labels`), write the TSV to `out`."""
    if (metadata is None) == (labels is None):
        raise DataError("give exactly one of `from_metadata` FILE or `from_labels` FILE")
    result = table_from_metadata(metadata) if metadata is not None else table_from_labels(labels)
    return result, write_table(result, out)


def _log_report(report: dict) -> None:
    for key in ("truncated", "conflicts", "reattached"):
        value = report.get(key)
        n = value if isinstance(value, int) else len(value or [])
        if n:
            logger.info("%s: %d %s", report["source"], n, key)
