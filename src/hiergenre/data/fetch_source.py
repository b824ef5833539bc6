"""What `data fetch` reads: albums with a MusicBrainz id and/or a cover URL, from MuMu's files or
any CSV, and the candidate URLs per album in `--sources` order."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from hiergenre.errors import DataError
from hiergenre.taxonomy import mumu

SOURCES = ("caa", "url")
MBID_KINDS = ("release-group", "release")
SIZES = (250, 500, 1200)
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class FetchItem:
    """One album to fetch: its id (the file name), a MusicBrainz id and/or a direct URL."""

    album_id: str
    mbid: str = ""
    url: str = ""

    @property
    def file_name(self) -> str:
        """Cover file name in the output folder: `<album_id>.jpg` (what `data import` reads)."""
        return f"{self.album_id}.jpg"


def candidates(
    item: FetchItem, sources: tuple[str, ...], caa_base: str, kind: str, size: int
) -> list[tuple[str, str]]:
    """(source, URL) pairs to try for `item`, in `sources` order; sources it lacks are left out."""
    out = []
    for source in sources:
        if source == "caa" and _MBID.match(item.mbid.lower()):
            out.append(("caa", f"{caa_base.rstrip('/')}/{kind}/{item.mbid.lower()}/front-{size}"))
        elif source == "url" and item.url.startswith(("http://", "https://")):
            out.append(("url", item.url))
    return out


def read_items(path: str | Path) -> tuple[list[FetchItem], list[dict]]:
    """Albums of a fetch source and the rows not usable (each {album_id, reason, detail}).

    Accepts MuMu's metadata (JSON array, JSON lines, Python dicts; `imUrl`), MuMu's multi-label
    CSV (`album_mbid`), or any CSV with `album_id` and `url` and/or `mbid` columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is not a file: give MuMu's metadata JSON, its CSV, or a CSV.")
    head = mumu.read_text(path)[:4096] if path.suffix == ".gz" else _head(path)
    if path.suffix.lower() in (".json", ".jsonl", ".gz") or mumu.is_metadata_text(head):
        rows = (
            (mumu.record_id(r), str(r.get("album_mbid") or r.get("mbid") or ""),
             str(r.get("imUrl") or r.get("url") or ""))
            for r in mumu.iter_metadata_records(path)
        )  # fmt: skip
    else:
        rows = _csv_rows(path)
    return _items(rows)


def _head(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        return fh.read(4096)


def _csv_rows(path: Path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        fields = next(csv.reader(fh), [])
    if {"amazon_id", "genres"} <= set(fields):
        albums, _, _ = mumu.read_label_csv(path)
        return [(a.amazon_id, a.album_mbid, "") for a in albums.values()]
    if "album_id" not in fields or not ({"url", "mbid"} & set(fields)):
        raise DataError(
            f"{path} has columns {', '.join(fields)}; a fetch CSV needs album_id and url and/or "
            "mbid (or give MuMu's metadata JSON or multi-label CSV)."
        )
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [
            ((r.get("album_id") or ""), (r.get("mbid") or ""), (r.get("url") or ""))
            for r in csv.DictReader(fh)
        ]


def _items(rows) -> tuple[list[FetchItem], list[dict]]:
    items, skipped, seen = [], [], set()
    for n, (aid, mbid, url) in enumerate(rows, start=1):
        aid = aid.strip()
        if not _SAFE_ID.match(aid):
            reason = "no-id" if not aid else "bad-id"
            skipped.append({"album_id": aid, "reason": reason, "detail": f"row {n}"})
        elif aid in seen:
            skipped.append({"album_id": aid, "reason": "duplicate-id", "detail": f"row {n}"})
        else:
            seen.add(aid)
            items.append(FetchItem(aid, mbid.strip(), url.strip()))
    return items, skipped
