"""Readers for labelled cover collections: MuMu CSV / JSON, a folder-per-genre tree, a plain CSV.

Each reader returns raw albums (genre names not yet resolved) plus the rows it could not use,
each with a reason: readers never drop a row silently.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from hiergenre.data.images import IMAGE_SUFFIXES
from hiergenre.errors import DataError

FORMATS = ("auto", "mumu-csv", "mumu-json", "folders", "csv")
MUMU_ROOT_CATEGORY = "CDs & Vinyl"


@dataclass
class RawAlbum:
    """One album as a source lists it: image path and genre names as spelled there."""

    album_id: str
    image: Path
    names: list[str]
    group: str = ""
    source: str = ""


@dataclass
class ReadResult:
    albums: list[RawAlbum] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {album_id, image, reason, detail}
    rows_read: int = 0


def skip(album_id: str, image: str | Path, reason: str, detail: str = "") -> dict:
    """A report entry for an album (or row) that was not kept."""
    return {"album_id": album_id, "image": str(image), "reason": reason, "detail": detail}


def detect_format(source: Path) -> str:
    """Guess a reader from a path: folder tree, MuMu JSON, MuMu CSV or generic CSV."""
    if source.is_dir():
        return "folders"
    if not source.is_file():
        raise DataError(f"{source} does not exist; give a folder, a .csv or a .json file.")
    if source.suffix.lower() in (".json", ".jsonl"):
        return "mumu-json"
    with open(source, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    cols = {c.strip() for c in header}
    if {"amazon_id", "genres"} <= cols:
        return "mumu-csv"
    if {"image", "labels"} <= cols:
        return "csv"
    raise DataError(f"cannot tell the format of {source} (columns {sorted(cols)}); pass --format.")


def read_mumu_csv(path: Path, images: Path) -> ReadResult:
    """MuMu multi-label CSV: one row per track, grouped into albums by `amazon_id`."""
    res, by_id = ReadResult(), {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            res.rows_read += 1
            aid = (row.get("amazon_id") or "").strip()
            if not aid:
                res.skipped.append(skip("", "", "no-id", f"row {res.rows_read + 1}"))
                continue
            # Amazon genre names with a comma arrive as fragments; the taxonomy's aliases map them.
            names = [g.strip() for g in (row.get("genres") or "").split(",") if g.strip()]
            album = by_id.get(aid)
            if album is None:
                image = images / f"{aid}.jpg"
                album = by_id[aid] = RawAlbum(aid, image, [], row.get("artist_mbid", ""), "mumu")
            album.names.extend(n for n in names if n not in album.names)
    for album in by_id.values():
        if album.names:
            res.albums.append(album)
        else:
            res.skipped.append(skip(album.album_id, album.image, "no-labels"))
    return res


def _json_records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is neither JSON nor JSON lines ({exc}).") from None


def read_mumu_json(path: Path, images: Path) -> ReadResult:
    """MuMu `amazon_metadata` JSON: genre paths in `categories`, the `CDs & Vinyl` root dropped."""
    res, seen = ReadResult(), set()
    for rec in _json_records(path):
        res.rows_read += 1
        aid = str(rec.get("amazon_id") or rec.get("asin") or "").strip()
        if not aid:
            res.skipped.append(skip("", "", "no-id", f"record {res.rows_read}"))
            continue
        image = images / f"{aid}.jpg"
        if aid in seen:
            res.skipped.append(skip(aid, image, "duplicate-id"))
            continue
        seen.add(aid)
        names: list[str] = []
        for cat_path in rec.get("categories") or []:
            for name in cat_path if isinstance(cat_path, list) else [cat_path]:
                if name and name != MUMU_ROOT_CATEGORY and name not in names:
                    names.append(str(name))
        if names:
            res.albums.append(RawAlbum(aid, image, names, str(rec.get("brand") or ""), "mumu"))
        else:
            res.skipped.append(skip(aid, image, "no-labels"))
    return res


def read_folders(root: Path) -> ReadResult:
    """`root/<genre>/[<subgenre>/]*.jpg`: every folder on the way is a label."""
    res = ReadResult()
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root)
        if file.is_dir() or any(p.startswith(".") for p in rel.parts) or len(rel.parts) < 2:
            continue  # hidden files and the root's own files (a manifest, a README) are not albums
        res.rows_read += 1
        aid = rel.with_suffix("").as_posix()
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            res.skipped.append(skip(aid, file, "not-an-image", f"suffix {file.suffix!r}"))
            continue
        res.albums.append(RawAlbum(aid, file, list(rel.parts[:-1]), "", "folders"))
    return res


def read_generic_csv(path: Path, images: Path) -> ReadResult:
    """CSV with `image,labels` (labels joined by `|`), optional `group` and `album_id`."""
    res, seen = ReadResult(), set()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("image", "labels") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path} lacks column(s) {', '.join(missing)}; a CSV source needs "
                            "`image,labels` (labels joined by |).")  # fmt: skip
        for row in reader:
            res.rows_read += 1
            image_text = (row.get("image") or "").strip()
            aid = (row.get("album_id") or "").strip() or Path(image_text).with_suffix("").as_posix()
            if not image_text:
                res.skipped.append(skip(aid, "", "no-image", f"row {res.rows_read + 1}"))
                continue
            image = Path(image_text) if Path(image_text).is_absolute() else images / image_text
            names = [x.strip() for x in (row.get("labels") or "").split("|") if x.strip()]
            if aid in seen:
                res.skipped.append(skip(aid, image, "duplicate-id"))
            elif not names:
                res.skipped.append(skip(aid, image, "no-labels"))
            else:
                seen.add(aid)
                group = (row.get("group") or "").strip()
                res.albums.append(RawAlbum(aid, image, names, group, "csv"))
    return res


def read_source(source: Path, fmt: str, images: Path | None) -> tuple[str, Path, ReadResult]:
    """Run the right reader; returns (format, dataset root for path checks, result)."""
    try:
        return _read_source(source, fmt, images)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source} is not UTF-8 text (bad byte at offset {exc.start}): save it as UTF-8."
        ) from None


def _read_source(source: Path, fmt: str, images: Path | None) -> tuple[str, Path, ReadResult]:
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    fmt = detect_format(source) if fmt == "auto" else fmt
    if fmt == "folders":
        if not source.is_dir():
            raise DataError(f"{source} is not a folder; --format folders needs root/<genre>/*.jpg.")
        return fmt, source, read_folders(source)
    if not source.is_file():
        raise DataError(f"{source} is not a file; --format {fmt} reads one file.")
    base = source.parent
    if images is None:
        images = base / "images" if fmt.startswith("mumu") and (base / "images").is_dir() else base
    reader = {"mumu-csv": read_mumu_csv, "mumu-json": read_mumu_json, "csv": read_generic_csv}
    return fmt, images, reader[fmt](source, images)
