"""Label statistics written into every dataset's report.json (and shown by `data stats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from hiergenre.errors import UnknownGenreError
from hiergenre.taxonomy import Taxonomy, get_label_space, single_label_subset


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
