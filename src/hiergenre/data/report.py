"""Dataset reports: the report.json schema and its label statistics (shown by `data stats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hiergenre.data.manifest import MANIFEST, load_dataset
from hiergenre.errors import UnknownGenreError
from hiergenre.taxonomy import Taxonomy, get_label_space, single_label_subset
from hiergenre.taxonomy.explain import AlbumCounts


def dataset_report(
    *,
    source: str,
    fmt: str,
    taxonomy: Taxonomy,
    label_sets: Sequence[Sequence[str]],
    rows_read: int,
    skipped: list[dict] | None = None,
    unknown: Counter | None = None,
    duplicates: dict | None = None,
    **extra: object,
) -> dict:
    """The report.json of a dataset: the one schema every writer (import, synth) fills in.

    Every album read is kept (`label_sets`) or listed in `skipped` with a reason.
    """
    skipped = skipped or []
    unknown = unknown or Counter()
    by_reason = Counter(s["reason"] for s in skipped)
    groups = (duplicates or {}).get("groups", [])
    report = {
        "source": source,
        "format": fmt,
        **extra,
        "taxonomy_digest": taxonomy.digest,
        "rows_read": rows_read,
        "albums_in": len(label_sets) + len(skipped),
        "albums_kept": len(label_sets),
        "albums_reported": len(skipped),
        "skipped_by_reason": dict(sorted(by_reason.items())),
        "unknown_genres": dict(sorted(unknown.items(), key=lambda kv: -kv[1])),
        "duplicates": {
            "policy": (duplicates or {}).get("policy", "none"),
            "identical_groups": sum(g["kind"] == "identical" for g in groups),
            "near_groups": sum(g["kind"] == "near" for g in groups),
            "groups": groups,
        },
        "counts": label_counts(label_sets, taxonomy),
        "skipped": skipped,
    }
    return report


def count_albums(dataset_dir: str | Path, taxonomy: Taxonomy) -> AlbumCounts:
    """Albums per node of a dataset directory (or its manifest.csv), closed under ancestors."""
    dataset = load_dataset(dataset_dir, taxonomy)
    per_node: Counter = Counter()
    for labels in dataset.label_sets:
        per_node.update(taxonomy.close(labels))
    counts = {n: per_node.get(n, 0) for n in taxonomy.names}
    return AlbumCounts(str(dataset.root / MANIFEST), len(dataset), counts)


def label_counts(label_sets: Sequence[Sequence[str]], taxonomy: Taxonomy) -> dict:
    """Per-genre album counts (closed under ancestors), per-level summaries and the long tail."""
    closed = [taxonomy.close(labels) for labels in label_sets]
    per_genre = Counter(name for labels in closed for name in labels)
    stored = Counter(name for labels in label_sets for name in labels)
    per_level = {}
    for level in range(1, taxonomy.depth + 1):
        names = [n for n in per_genre if taxonomy.level(n) == level]
        per_level[str(level)] = {
            "genres_used": len(names),
            "genres_in_taxonomy": int((taxonomy.levels == level).sum()),
            "albums_with_a_label": sum(any(taxonomy.level(n) == level for n in c) for c in closed),
        }
    sizes = np.array(sorted(per_genre.values(), reverse=True) or [0])
    n = max(len(label_sets), 1)
    ordered = sorted(per_genre.items(), key=lambda kv: (-kv[1], taxonomy.names.index(kv[0])))
    return {
        "albums": len(label_sets),
        "labels_per_album_stored": round(sum(map(len, label_sets)) / n, 3),
        "labels_per_album_closed": round(sum(map(len, closed)) / n, 3),
        "genres_used": len(per_genre),
        "per_level": per_level,
        "long_tail": _long_tail(sizes),
        "single_label_koenig12": _single_label_share(label_sets, taxonomy),
        "per_genre": dict(ordered),
        "stored_labels": dict(sorted(stored.items(), key=lambda kv: -kv[1])),
    }


def _long_tail(sizes: np.ndarray) -> dict:
    """How skewed the genre sizes are: head share, tail counts, Gini coefficient."""
    total = max(int(sizes.sum()), 1)
    head = max(1, len(sizes) // 20)
    asc = np.sort(sizes)
    cum = np.cumsum(asc)
    gini = float(1 - 2 * (cum / cum[-1]).sum() / len(asc) + 1 / len(asc)) if cum[-1] else 0.0
    return {
        "largest": int(sizes[0]),
        "median": float(np.median(sizes)),
        "top5pct_share_of_labels": round(float(sizes[:head].sum()) / total, 3),
        "genres_with_at_most_5_albums": int((sizes <= 5).sum()),
        "genres_with_1_album": int((sizes == 1).sum()),
        "gini": round(gini, 3),
    }


def _single_label_share(label_sets: Sequence[Sequence[str]], taxonomy: Taxonomy) -> dict | None:
    """The poster's single-label selection on these labels (None if koenig12 is not in the tree)."""
    try:
        space = get_label_space("koenig12", taxonomy)
    except UnknownGenreError:
        return None
    cls = single_label_subset(label_sets, space, close=True)
    kept = int((cls >= 0).sum())
    return {"albums": kept, "share": round(kept / max(len(label_sets), 1), 3)}
