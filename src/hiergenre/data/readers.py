"""Readers for labelled cover collections: MuMu CSV / JSON, a folder-per-genre tree, any CSV.

Each reader returns raw albums (genre names not yet resolved) plus the rows it could not use,
each with a reason: readers never drop a row silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from hiergenre.data.images import IMAGE_SUFFIXES
from hiergenre.errors import DataError, check_choice
from hiergenre.taxonomy import mumu

FORMATS = ("auto", "mumu-csv", "mumu-json", "folders", "csv")


@dataclass(frozen=True)
class CsvColumns:
    """Which columns of a generic CSV hold what, and how labels are joined in a cell.

    `labels` is one column or several (Discogs exports: `("genres", "styles")`); an album's
    names are those of every label column, in column order.
    """

    image: str = "image"
    labels: str | tuple[str, ...] = "labels"
    group: str = "group"
    album_id: str = "album_id"
    label_sep: str = "|"

    @property
    def label_columns(self) -> tuple[str, ...]:
        return (self.labels,) if isinstance(self.labels, str) else tuple(self.labels)


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


def detect_format(source: Path, columns: CsvColumns = CsvColumns()) -> str:
    """Guess a reader from a path: folder tree, MuMu JSON, MuMu CSV or generic CSV."""
    if source.is_dir():
        return "folders"
    if not source.is_file():
        raise DataError(f"{source} does not exist; give a folder, a .csv or a .json file.")
    if source.suffix.lower() in (".json", ".jsonl", ".gz"):
        return "mumu-json"
    with open(source, encoding="utf-8-sig", newline="", errors="replace") as fh:
        head = fh.read(4096)
    if mumu.is_metadata_text(head):
        return "mumu-json"  # JSON lines or the Python-literal Amazon dump under another suffix
    header = next(csv.reader(head.splitlines()), [])
    cols = {c.strip() for c in header}
    if {"amazon_id", "genres"} <= cols:
        return "mumu-csv"
    default = CsvColumns()
    named = (columns.image, columns.label_columns) != (default.image, default.label_columns)
    if {columns.image, *columns.label_columns} <= cols or named:
        return "csv"  # columns the user named: read_generic_csv says which one is missing
    raise DataError(
        f"cannot tell the format of {source} (columns {sorted(cols)}); pass `format`, or name "
        "the columns with `image_col` and `label_col`."
    )


def read_mumu_csv(path: Path, images: Path) -> ReadResult:
    """MuMu multi-label CSV: one row per track, grouped into albums by `amazon_id`."""
    albums, rows, bad = mumu.read_label_csv(path)
    res = ReadResult(rows_read=rows)
    res.skipped.extend(skip("", "", "no-id-or-labels", f"line {line}") for line in bad)
    for album in albums.values():
        # Amazon genre names with a comma arrive as fragments; the taxonomy's aliases map them.
        image = images / f"{album.amazon_id}.jpg"
        res.albums.append(RawAlbum(album.amazon_id, image, album.genres, album.artist_mbid, "mumu"))
    return res


def read_mumu_json(path: Path, images: Path) -> ReadResult:
    """MuMu `amazon_metadata` (JSON, JSON lines or Python dicts): genres from `categories`."""
    res, seen = ReadResult(), set()
    for rec in mumu.iter_metadata_records(path):
        res.rows_read += 1
        aid = mumu.record_id(rec)
        if not aid:
            res.skipped.append(skip("", "", "no-id", f"record {res.rows_read}"))
            continue
        image = images / f"{aid}.jpg"
        if aid in seen:
            res.skipped.append(skip(aid, image, "duplicate-id"))
            continue
        seen.add(aid)
        names = mumu.record_genres(rec)
        if names:
            res.albums.append(RawAlbum(aid, image, names, str(rec.get("brand") or ""), "mumu"))
        else:
            res.skipped.append(skip(aid, image, "no-labels"))
    return res


def read_folders(root: Path, levels: int = 1) -> ReadResult:
    """`root/<genre>/.../cover.jpg`: the first `levels` folders below `root` are genre labels.

    Deeper folders (`Rock/Live/`, `Jazz/Disc 2/`) organise files and name no genre; `levels=0`
    makes every folder on the way a label. The album id is the path below `root`, no suffix.
    """
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
        folders = list(rel.parts[:-1])
        names = folders[:levels] if levels > 0 else folders
        res.albums.append(RawAlbum(aid, file, names, "", "folders"))
    return res


def read_generic_csv(path: Path, images: Path, columns: CsvColumns = CsvColumns()) -> ReadResult:
    """CSV with an image column and a label column (labels joined by `label_sep`), optional
    group and album-id columns; column names come from `columns`. Rows repeating an album id with
    the same image add their labels to it (a collection listed once per genre)."""
    res, seen = ReadResult(), {}
    col = columns
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        named = [(col.image, "`image_col`")] + [(c, "`label_col`") for c in col.label_columns]
        missing = [f"{c} ({option})" for c, option in named if c not in fields]
        if missing:
            raise DataError(
                f"{path} lacks column(s) {', '.join(missing)} (it has {', '.join(fields)}); "
                "name its columns with `image_col` and `label_col`."
            )
        for row in reader:
            res.rows_read += 1
            image_text = (row.get(col.image) or "").strip()
            aid = (row.get(col.album_id) or "").strip() or Path(image_text).with_suffix(
                ""
            ).as_posix()
            if not image_text:
                res.skipped.append(skip(aid, "", "no-image", f"row {res.rows_read + 1}"))
                continue
            image = Path(image_text) if Path(image_text).is_absolute() else images / image_text
            names = _cell_names(row, col)
            first = seen.get(aid)
            if first is not None and first.image == image:  # one album listed once per genre
                first.names.extend(n for n in names if n not in first.names)
            elif first is not None:
                res.skipped.append(skip(aid, image, "duplicate-id", f"image of {aid} differs"))
            elif not names:
                res.skipped.append(skip(aid, image, "no-labels"))
            else:
                group = (row.get(col.group) or "").strip()
                seen[aid] = RawAlbum(aid, image, names, group, "csv")
                res.albums.append(seen[aid])
    return res


def _cell_names(row: dict, col: CsvColumns) -> list[str]:
    """The genre names of a row: every label column's cell split on the separator, no repeats."""
    names: list[str] = []
    for column in col.label_columns:
        for name in (row.get(column) or "").split(col.label_sep):
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
    return names


def read_source(
    source: Path,
    fmt: str,
    images: Path | None,
    columns: CsvColumns = CsvColumns(),
    folder_levels: int = 1,
) -> tuple[str, Path, ReadResult]:
    """Run the right reader; returns (format, dataset root for path checks, result)."""
    try:
        return _read_source(source, fmt, images, columns, folder_levels)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source} is not UTF-8 text (bad byte at offset {exc.start}): save it as UTF-8."
        ) from None


def _read_source(
    source: Path, fmt: str, images: Path | None, columns: CsvColumns, folder_levels: int
) -> tuple[str, Path, ReadResult]:
    check_choice("`format`", fmt, FORMATS)
    if folder_levels < 0:
        raise DataError(f"`folder_levels` must be 0 (every folder) or more, got {folder_levels}.")
    fmt = detect_format(source, columns) if fmt == "auto" else fmt
    if fmt == "folders":
        if not source.is_dir():
            raise DataError(f"{source} is not a folder; `format` folders needs root/<genre>/*.jpg.")
        return fmt, source, read_folders(source, folder_levels)
    if not source.is_file():
        raise DataError(f"{source} is not a file; `format` {fmt} reads one file.")
    base = source.parent
    if images is None:
        images = base / "images" if fmt.startswith("mumu") and (base / "images").is_dir() else base
    if fmt == "csv":
        return fmt, images, read_generic_csv(source, images, columns)
    reader = {"mumu-csv": read_mumu_csv, "mumu-json": read_mumu_json}
    return fmt, images, reader[fmt](source, images)
