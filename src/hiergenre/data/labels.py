"""Genre names -> taxonomy nodes, and image paths -> inside the collection or not.

The one place where a source's genre names are resolved (the importer and `load_dataset` both
call `resolve_label_sets`) and where an image path is checked against its folder (`is_inside`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hiergenre.errors import DataError, check_choice
from hiergenre.taxonomy import Taxonomy
from hiergenre.taxonomy.discogs import DiscogsNames

SEPARATORS = ("|", ",", ";", "/")
VOCABULARIES = ("taxonomy", "discogs")


def resolve_label_sets(
    name_lists: Sequence[Sequence[str]], taxonomy: Taxonomy, vocabulary: str = "taxonomy"
) -> tuple[list[list[str]], Counter, Counter]:
    """Map each album's names onto nodes (first-seen order, no repeats).

    Returns (label sets, unknown names counted, names deliberately not mapped counted).
    `vocabulary="discogs"` reads the names as Discogs genres and styles first (the shipped
    `taxonomy/discogs.tsv`; `Electronic` is then `Dance & Electronic`), the taxonomy's own names
    and aliases after; `"taxonomy"` reads node names and aliases only (a dataset's manifest).
    """
    check_choice("`names`", vocabulary, VOCABULARIES)
    if vocabulary == "discogs":
        return _resolve_discogs(name_lists, DiscogsNames(taxonomy))
    cache: dict[str, str | None] = {}
    unknown: Counter = Counter()
    out = []
    for names in name_lists:
        nodes: list[str] = []
        for name in names:
            if name not in cache:
                cache[name] = taxonomy.try_resolve(name)
            node = cache[name]
            if node is None:
                unknown[name] += 1
            elif node not in nodes:
                nodes.append(node)
        out.append(nodes)
    return out, unknown, Counter()


def _resolve_discogs(
    name_lists: Sequence[Sequence[str]], discogs: DiscogsNames
) -> tuple[list[list[str]], Counter, Counter]:
    unknown: Counter = Counter()
    ignored: Counter = Counter()
    out = []
    for names in name_lists:
        nodes, missing, skipped = discogs.resolve_album(names)
        unknown.update(missing)
        ignored.update(skipped)
        out.append(nodes)
    return out, unknown, ignored


def check_separator(unknown: Sequence[str], taxonomy: Taxonomy, sep: str, option: str) -> None:
    """DataError when an unknown name is really several genres joined with another separator."""
    for name in unknown:
        for other in SEPARATORS:
            if other == sep or other not in name:
                continue
            parts = [p.strip() for p in name.split(other) if p.strip()]
            if len(parts) > 1 and all(taxonomy.try_resolve(p) is not None for p in parts):
                raise DataError(
                    f"label {name!r} looks like {len(parts)} genres joined with {other!r}, but "
                    f"labels here are split on {sep!r}: pass {option} {other!r} (or join with "
                    f"{sep!r})."
                )


def absolute(path: str | Path, base: str | Path | None = None) -> Path:
    """`path` made absolute (relative to `base` if given) and normalised, `..` collapsed."""
    joined = os.path.join(base, path) if base is not None else path
    return Path(os.path.normpath(os.path.abspath(joined)))


def is_inside(path: str | Path, root: str | Path) -> bool:
    """Whether `path` (absolute, or relative to `root`) stays inside `root` after `..` collapse."""
    base = absolute(root)
    return absolute(path, base).is_relative_to(base)
