"""`import_collection`: any labelled cover collection -> a checked dataset directory.

Pipeline: read rows -> resolve genre names through the taxonomy -> refuse paths outside the root
-> decode and hash every cover -> find duplicates and apply the policy -> write manifest + report.
Every album read is either kept or listed in the report with a reason.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from hiergenre.data.dedupe import NEAR_MAX_BITS, dhash, find_duplicates, phash, sha1_file
from hiergenre.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from hiergenre.data.manifest import Dataset, manifest_frame, write_dataset
from hiergenre.data.parallel import Progress, chunked_map
from hiergenre.data.readers import RawAlbum, read_source, skip
from hiergenre.data.report import label_counts
from hiergenre.errors import ConfigError, UnknownGenreError
from hiergenre.taxonomy import Taxonomy

log = logging.getLogger(__name__)

UNKNOWN_POLICIES = ("error", "drop")
DUPLICATE_POLICIES = ("merge", "drop", "keep")


@dataclass(frozen=True)
class ImportOptions:
    """How to read a collection and what to do with unknown genres and duplicate covers."""

    format: str = "auto"
    images: Path | None = None
    unknown: str = "error"
    duplicates: str = "merge"
    allow_outside_root: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    near_max_bits: int = NEAR_MAX_BITS
    workers: int | None = None


def import_collection(
    source: str | Path,
    out_dir: str | Path,
    taxonomy: Taxonomy,
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> Dataset:
    """Import `source` into `out_dir` (manifest.csv + report.json) and return the Dataset."""
    if options.unknown not in UNKNOWN_POLICIES:
        raise ConfigError(f"--unknown must be one of {', '.join(UNKNOWN_POLICIES)}.")
    if options.duplicates not in DUPLICATE_POLICIES:
        raise ConfigError(f"--duplicates must be one of {', '.join(DUPLICATE_POLICIES)}.")
    source, out_dir = Path(source), Path(out_dir)
    fmt, root, read = read_source(source, options.format, options.images)
    skipped = list(read.skipped)
    albums_in = len(read.albums) + len(skipped)
    albums, unknown = _resolve_names(read.albums, taxonomy, options.unknown, skipped)
    albums = _inside_root(albums, root, options.allow_outside_root, skipped)
    inspect = partial(_inspect, max_pixels=options.max_pixels)
    facts = chunked_map(inspect, [a.image for a in albums], options.workers, progress)
    good = []
    for album, fact in zip(albums, facts, strict=True):
        if isinstance(fact, tuple) and len(fact) == 2:
            skipped.append(skip(album.album_id, album.image, fact[0], fact[1]))
        else:
            good.append((album, fact))
    kept, groups = _apply_duplicates(good, options, skipped)
    rows = [_manifest_row(a, out_dir) for a in kept]
    by_reason = Counter(s["reason"] for s in skipped)
    report = {
        "source": str(source),
        "format": fmt,
        "taxonomy_digest": taxonomy.digest,
        "rows_read": read.rows_read,
        "albums_in": albums_in,
        "albums_kept": len(kept),
        "albums_reported": len(skipped),
        "skipped_by_reason": dict(sorted(by_reason.items())),
        "unknown_genres": dict(sorted(unknown.items(), key=lambda kv: -kv[1])),
        "duplicates": {
            "policy": options.duplicates,
            "identical_groups": sum(g["kind"] == "identical" for g in groups),
            "near_groups": sum(g["kind"] == "near" for g in groups),
            "groups": groups,
        },
        "counts": label_counts([a.names for a in kept], taxonomy),
        "skipped": skipped,
    }
    assert report["albums_in"] == report["albums_kept"] + report["albums_reported"]
    write_dataset(out_dir, manifest_frame(rows), report)
    log.info("imported %d of %d albums from %s", len(kept), albums_in, source)
    from hiergenre.data.manifest import load_dataset

    return load_dataset(out_dir, taxonomy)


def _resolve_names(
    albums: list[RawAlbum], taxonomy: Taxonomy, policy: str, skipped: list[dict]
) -> tuple[list[RawAlbum], Counter]:
    """Map names onto nodes; unknown names raise (policy error) or are dropped and counted."""
    cache: dict[str, str | None] = {}
    unknown: Counter = Counter()
    out = []
    for album in albums:
        nodes: list[str] = []
        for name in album.names:
            if name not in cache:
                cache[name] = taxonomy.try_resolve(name)
            node = cache[name]
            if node is None:
                unknown[name] += 1
            elif node not in nodes:
                nodes.append(node)
        if nodes:
            out.append(RawAlbum(album.album_id, album.image, nodes, album.group, album.source))
        else:
            detail = ", ".join(album.names)[:200]
            skipped.append(skip(album.album_id, album.image, "unknown-genre", detail))
    if unknown and policy == "error":
        names = sorted(unknown, key=lambda n: -unknown[n])
        raise UnknownGenreError(
            names,
            {n: taxonomy.suggest(n) for n in names[:10]},
            hint="fix the names, add aliases, or pass --unknown drop to skip them",
        )
    return out, unknown


def _inside_root(
    albums: list[RawAlbum], root: Path, allow: bool, skipped: list[dict]
) -> list[RawAlbum]:
    """Refuse images whose path leaves the collection's root (`../` tricks), unless allowed."""
    base = Path(os.path.normpath(os.path.abspath(root)))
    out = []
    for album in albums:
        path = Path(os.path.normpath(os.path.abspath(album.image)))
        album.image = path
        if allow or path.is_relative_to(base):
            out.append(album)
        else:
            skipped.append(skip(album.album_id, path, "outside-root", f"not under {base}"))
    return out


def _inspect(path: Path, max_pixels: int) -> tuple:
    """(sha1, dhash, phash) for a decodable cover, or (reason, detail) for a broken one."""
    try:
        img = decode_image(path, max_pixels=max_pixels, draft=64)
    except ImageDecodeError as exc:
        return (exc.reason, exc.detail)
    return (sha1_file(path), dhash(img), phash(img))


def _apply_duplicates(
    good: list[tuple[RawAlbum, tuple]], options: ImportOptions, skipped: list[dict]
) -> tuple[list[RawAlbum], list[dict]]:
    """Merge, drop or keep each duplicate group; returns kept albums and the group records."""
    facts = [f for _, f in good]
    found = find_duplicates([f[0] for f in facts], [f[1] for f in facts], [f[2] for f in facts],
                            options.near_max_bits)  # fmt: skip
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
    base = Path(os.path.normpath(os.path.abspath(out_dir)))
    image = album.image.relative_to(base) if album.image.is_relative_to(base) else album.image
    return {"album_id": album.album_id, "image": image.as_posix(), "labels": album.names,
            "group": album.group, "source": album.source}  # fmt: skip
