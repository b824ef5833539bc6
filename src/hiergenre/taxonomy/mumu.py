"""MuMu's files, parsed once for every user: the taxonomy builder, the importer and `data fetch`.

- Amazon metadata (`amazon_metadata_MuMu.json`): a JSON array, JSON lines, or the original dump
  with one Python dict literal per line (gzip of any of them too). Genre paths are in
  `categories`, each starting with the root category `CDs & Vinyl`; the cover URL is `imUrl`.
- The multi-label CSV (`MuMu_dataset_multi-label.csv`): one row per track, columns
  `amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres` (genres joined by `,`).

This module sits in the taxonomy layer (it depends only on `errors`) so both the taxonomy builder
and the data layer use it without an upward import.
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hiergenre.errors import DataError

AMAZON_ROOT = "CDs & Vinyl"
LABEL_CSV_COLUMNS = ("amazon_id", "genres")


def read_text(path: str | Path) -> str:
    """A text file's content (gzip is unpacked, a UTF-8 BOM dropped); DataError if unreadable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: check the path") from None
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start}): save it as UTF-8"
        ) from None


def is_metadata_text(text: str) -> bool:
    """Whether a file's text looks like metadata records (JSON / dict literals), not a CSV."""
    return text.lstrip()[:1] in ("[", "{")


def iter_metadata_records(path: str | Path) -> Iterator[dict]:
    """Records of an Amazon metadata file: a JSON array, JSON lines, or one Python dict per line.

    Anything else (CSV, XML, a bare list of paths) raises DataError naming the first bad line.
    """
    path = Path(path)
    text = read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise DataError(f"{path} is empty: expected Amazon metadata records")
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {exc.lineno}: broken JSON array ({exc.msg})") from None
        for i, rec in enumerate(data):
            if not isinstance(rec, dict):
                raise DataError(f"{path}: item {i} of the JSON array is not an object")
            yield rec
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield _parse_record_line(line, f"{path} line {line_no}")


def _parse_record_line(line: str, where: str) -> dict:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        try:  # the original Amazon dumps hold one Python dict literal per line
            rec = ast.literal_eval(line.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            rec = None
    if not isinstance(rec, dict):
        raise DataError(
            f"{where}: not a JSON object or Python dict; expected a JSON array of records, "
            "JSON lines, or one Python dict per line (CSV/XML are not metadata files)"
        )
    return rec


def record_id(rec: dict) -> str:
    """The album id of a metadata record (`amazon_id`, else Amazon's `asin`); '' if none."""
    return str(rec.get("amazon_id") or rec.get("asin") or "").strip()


def record_genres(rec: dict) -> list[str]:
    """Genre names of a record's `categories` paths, in order, without `CDs & Vinyl`."""
    names: list[str] = []
    for cat_path in rec.get("categories") or []:
        for name in cat_path if isinstance(cat_path, list | tuple) else [cat_path]:
            name = str(name).strip() if name is not None else ""
            if name and name != AMAZON_ROOT and name not in names:
                names.append(name)
    return names


@dataclass
class LabelAlbum:
    """One album of the multi-label CSV: its genres (as spelled, in first-seen order) and ids."""

    amazon_id: str
    genres: list[str] = field(default_factory=list)
    album_mbid: str = ""
    artist_mbid: str = ""
    raw_genres: set[str] = field(default_factory=set)  # unstripped fragments, for the builder
    disagree: bool = False  # tracks of the album listed different genres (they are united)


def read_label_csv(path: str | Path) -> tuple[dict[str, LabelAlbum], int, list[int]]:
    """Albums of MuMu's multi-label CSV: ({amazon_id: LabelAlbum}, rows read, bad row numbers).

    A bad row has no amazon_id or no genres; its 1-based line number is returned, never dropped
    silently.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {path} does not exist: check the path")
    albums: dict[str, LabelAlbum] = {}
    bad: list[int] = []
    rows = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in LABEL_CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path} line 1: missing column(s) {', '.join(missing)}; expected MuMu's "
                "amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres"
            )
        for row in reader:
            rows += 1
            aid = (row.get("amazon_id") or "").strip()
            raw = [g for g in (row.get("genres") or "").split(",") if g.strip()]
            if not aid or not raw:
                bad.append(rows + 1)
                continue
            album = albums.get(aid)
            if album is None:
                album = albums[aid] = LabelAlbum(aid)
                album.album_mbid = (row.get("album_mbid") or "").strip()
                album.artist_mbid = (row.get("artist_mbid") or "").strip()
            elif set(album.genres) != {g.strip() for g in raw}:
                album.disagree = True
            album.raw_genres.update(raw)
            album.genres.extend(g.strip() for g in raw if g.strip() not in album.genres)
    return albums, rows, bad
