"""`import_collection`: any labelled cover collection -> a checked dataset directory.

Pipeline: read rows -> resolve genre names through the taxonomy -> refuse paths outside the root
-> decode and hash every cover -> find duplicates and apply the policy -> write manifest + report.
Every album read is either kept or listed in the report with a reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from hiergenre.data.dedupe import (
    NEAR_MAX_BITS,
    colour_layout,
    dhash,
    find_duplicates,
    phash,
    sha1_file,
)
from hiergenre.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from hiergenre.data.labels import (
    VOCABULARIES,
    absolute,
    check_separator,
    is_inside,
    resolve_label_sets,
)
from hiergenre.data.manifest import Dataset, load_dataset, manifest_frame, write_dataset
from hiergenre.data.parallel import Progress, chunked_map
from hiergenre.data.readers import CsvColumns, RawAlbum, read_source, skip
from hiergenre.data.report import dataset_report
from hiergenre.errors import DataError, UnknownGenreError, check_choice
from hiergenre.taxonomy import Taxonomy

log = logging.getLogger(__name__)

UNKNOWN_POLICIES = ("error", "drop")
DUPLICATE_POLICIES = ("merge", "drop", "keep")


@dataclass(frozen=True)
class ImportOptions:
    """How to read a collection and what to do with unknown genres and duplicate covers.

    `columns` names a generic CSV's columns and label separator; `folder_levels` is how many
    folder levels below a folder tree's root are genres (0: all of them). `names` is how genre
    names are read: `discogs` (Discogs genres and styles first, then the taxonomy's names and
    aliases), `taxonomy` (node names and aliases only) or `auto` (taxonomy for MuMu's files,
    discogs for a CSV or a folder tree).
    """

    format: str = "auto"
    images: Path | None = None
    unknown: str = "error"
    duplicates: str = "merge"
    allow_outside_root: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    near_max_bits: int = NEAR_MAX_BITS
    workers: int | None = None
    columns: CsvColumns = CsvColumns()
    folder_levels: int = 1
    names: str = "auto"


def import_collection(
    source: str | Path,
    out_dir: str | Path,
    taxonomy: Taxonomy,
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> Dataset:
    """Import `source` into `out_dir` (manifest.csv + report.json) and return the Dataset."""
    check_choice("`unknown`", options.unknown, UNKNOWN_POLICIES)
    check_choice("`duplicates`", options.duplicates, DUPLICATE_POLICIES)
    source, out_dir = Path(source), Path(out_dir)
    fmt, root, read = read_source(
        source, options.format, options.images, options.columns, options.folder_levels
    )
    skipped = list(read.skipped)
    albums, unknown, ignored = _resolve_names(read.albums, taxonomy, options, fmt, skipped)
    albums = _inside_root(albums, root, options.allow_outside_root, skipped)
    inspect = partial(_inspect, max_pixels=options.max_pixels)
    facts = chunked_map(inspect, [a.image for a in albums], options.workers, progress)
    good = []
    for album, fact in zip(albums, facts, strict=True):
        if len(fact) == 2:
            skipped.append(skip(album.album_id, album.image, fact[0], fact[1]))
        else:
            good.append((album, fact))
    _refuse_empty(good, source, fmt, skipped)
    kept, groups = _apply_duplicates(good, options, skipped)
    _refuse_empty(kept, source, fmt, skipped)
    report = dataset_report(
        source=str(source),
        fmt=fmt,
        taxonomy=taxonomy,
        label_sets=[a.names for a in kept],
        rows_read=read.rows_read,
        skipped=skipped,
        unknown=unknown,
        duplicates={"policy": options.duplicates, "groups": groups},
        names=_vocabulary(options.names, fmt),
        names_not_mapped=dict(sorted(ignored.items(), key=lambda kv: -kv[1])),
    )
    write_dataset(out_dir, manifest_frame([_manifest_row(a, out_dir) for a in kept]), report)
    log.info("imported %d of %d albums from %s", len(kept), report["albums_in"], source)
    return load_dataset(out_dir, taxonomy)


# What to do when a reason rejected the most albums of an import that kept none.
_HINTS = {
    "outside-root": "pass `allow_outside_root` to accept image paths outside the collection folder",
    "unknown-genre": "fix the genre names or add aliases (or check `label_col` and `label_sep`)",
    "missing": "check the image paths (relative to the CSV's folder, or to `images`)",
    "no-labels": "fill in the genre column (or name it with `label_col`)",
    "duplicate-conflict": "use `duplicates` merge or keep",
}


def _refuse_empty(albums: list, source: Path, fmt: str, skipped: list) -> None:
    """A one-line DataError when no album is left: why each row was rejected, and what to do."""
    if albums:
        return
    if not skipped:
        layout = ("covers in one folder per genre (root/<genre>/cover.jpg; covers directly in the "
                  "root name no genre)" if fmt == "folders" else "one row per album")  # fmt: skip
        raise DataError(f"{source} holds no albums to import: it needs {layout}.")
    reasons = Counter(s["reason"] for s in skipped).most_common()
    counts = ", ".join(f"{reason} {n}" for reason, n in reasons)
    hint = _HINTS.get(reasons[0][0], "see the reasons above and fix the collection")
    what = f"all {len(skipped)} albums were rejected ({counts})"
    raise DataError(f"nothing to import from {source}: {what}; {hint}.")


def _vocabulary(names: str, fmt: str) -> str:
    """The vocabulary a source's genre names are read in (`ImportOptions.names`)."""
    check_choice("`names`", names, ("auto", *VOCABULARIES))
    if names != "auto":
        return names
    return "taxonomy" if fmt.startswith("mumu") else "discogs"


def _resolve_names(
    albums: list[RawAlbum],
    taxonomy: Taxonomy,
    options: ImportOptions,
    fmt: str,
    skipped: list,
) -> tuple[list[RawAlbum], Counter, Counter]:
    """Map names onto nodes; unknown names raise (policy error) or are dropped and counted;
    names the Discogs table deliberately leaves unmapped are counted apart."""
    vocabulary = _vocabulary(options.names, fmt)
    resolved, unknown, ignored = resolve_label_sets([a.names for a in albums], taxonomy, vocabulary)
    if unknown and fmt == "csv":
        check_separator(list(unknown), taxonomy, options.columns.label_sep, "`label_sep`")
    out = []
    for album, nodes in zip(albums, resolved, strict=True):
        if nodes:
            out.append(RawAlbum(album.album_id, album.image, nodes, album.group, album.source))
        else:
            detail = ", ".join(album.names)[:200]
            reason = "unknown-genre" if any(n in unknown for n in album.names) else "no-genre"
            skipped.append(skip(album.album_id, album.image, reason, detail))
    if unknown and options.unknown == "error":
        names = sorted(unknown, key=lambda n: -unknown[n])
        raise UnknownGenreError(
            names,
            {n: taxonomy.suggest(n) for n in names[:10]},
            hint="fix the names, add aliases, or pass `unknown` drop to skip them",
        )
    return out, unknown, ignored


def _inside_root(
    albums: list[RawAlbum], root: Path, allow: bool, skipped: list[dict]
) -> list[RawAlbum]:
    """Refuse images whose path leaves the collection's root (`../` tricks), unless allowed."""
    out = []
    for album in albums:
        album.image = absolute(album.image)
        if allow or is_inside(album.image, root):
            out.append(album)
        else:
            skipped.append(skip(album.album_id, album.image, "outside-root", f"not under {root}"))
    return out


def _inspect(path: Path, max_pixels: int) -> tuple:
    """(sha1, dhash, phash, colour layout) for a decodable cover, or (reason, detail)."""
    try:
        img = decode_image(path, max_pixels=max_pixels, draft=64)
    except ImageDecodeError as exc:
        return (exc.reason, exc.detail)
    return (sha1_file(path), dhash(img), phash(img), colour_layout(img).tobytes())


def covers_among(
    known: list[Path], candidates: list[Path], *, max_pixels: int = DEFAULT_MAX_PIXELS,
    near_max_bits: int = NEAR_MAX_BITS, workers: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Indices of `candidates` whose cover is one of `known`, found by content the way `data
    import` finds duplicates: the same file bytes, or a near-identical image (both perceptual
    hashes and the colour layout close). Covers that cannot be decoded match nothing."""
    inspect = partial(_inspect, max_pixels=max_pixels)
    facts = chunked_map(inspect, [*known, *candidates], workers)
    ok = [i for i, fact in enumerate(facts) if len(fact) == 4]
    if not ok:
        return np.zeros(0, np.int64)
    good = [facts[i] for i in ok]
    colours = np.frombuffer(b"".join(f[3] for f in good), np.uint8).reshape(len(good), -1)
    groups = find_duplicates([f[0] for f in good], [f[1] for f in good], [f[2] for f in good],
                             colours, near_max_bits)  # fmt: skip
    found: set[int] = set()
    for group in groups:
        rows = [ok[r] for r in group.rows]
        if any(r < len(known) for r in rows):
            found.update(r - len(known) for r in rows if r >= len(known))
    return np.array(sorted(found), np.int64)


def _apply_duplicates(
    good: list[tuple[RawAlbum, tuple]], options: ImportOptions, skipped: list[dict]
) -> tuple[list[RawAlbum], list[dict]]:
    """Merge, drop or keep each duplicate group; returns kept albums and the group records."""
    facts = [f for _, f in good]
    colours = np.frombuffer(b"".join(f[3] for f in facts), np.uint8).reshape(len(facts), -1)
    found = find_duplicates([f[0] for f in facts], [f[1] for f in facts], [f[2] for f in facts],
                            colours, options.near_max_bits)  # fmt: skip
    drop_rows: set[int] = set()
    records = []
    for group in found:
        members = [good[r][0] for r in group.rows]
        differ = len({frozenset(m.names) for m in members}) > 1
        ids = [m.album_id for m in members]
        if options.duplicates == "keep":
            action, keep_ids = "kept", ids
        elif options.duplicates == "drop" and differ:
            action, keep_ids = "dropped", []
        else:
            action, keep_ids = "merged", ids[:1]
            first = members[0]
            for m in members[1:]:
                first.names.extend(n for n in m.names if n not in first.names)
        for row, member in zip(group.rows, members, strict=True):
            if member.album_id not in keep_ids:
                drop_rows.add(row)
                reason = "duplicate-merged" if action == "merged" else "duplicate-conflict"
                detail = f"same cover as {keep_ids[0]}" if keep_ids else "labels disagree"
                skipped.append(skip(member.album_id, member.image, reason, detail))
        records.append({"albums": ids, "kind": group.kind, "labels_differ": differ,
                        "action": action, "kept": keep_ids})  # fmt: skip
    kept = [a for i, (a, _) in enumerate(good) if i not in drop_rows]
    return kept, records


def _manifest_row(album: RawAlbum, out_dir: Path) -> dict:
    base = absolute(out_dir)
    image = album.image.relative_to(base) if album.image.is_relative_to(base) else album.image
    return {"album_id": album.album_id, "image": image.as_posix(), "labels": album.names,
            "group": album.group, "source": album.source}  # fmt: skip
