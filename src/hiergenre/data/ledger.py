"""The fetch ledger: one JSON line per album fetched into a folder, so a re-run resumes.

`fetch-ledger.jsonl` in the output folder; each line records one finished attempt at an album:
status `ok` / `not-found` / `failed`, the reason, the source and URL, bytes and sha1 of the file.
The last line for an album wins. Lines are appended and fsynced one by one, so a kill loses at
most the line being written; a torn last line is skipped (and counted) when the ledger is read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from hiergenre.fileio import atomic_append_line

log = logging.getLogger(__name__)

LEDGER = "fetch-ledger.jsonl"
STATUSES = ("ok", "not-found", "failed")


@dataclass(frozen=True)
class LedgerEntry:
    """The outcome of fetching one album's cover."""

    album_id: str
    status: str  # one of STATUSES
    reason: str = ""  # why not ok (`http-404`, `timeout`, `not-an-image`, ...); `on-disk` if found
    source: str = ""  # `caa` or `url`: where the cover (or the last failure) came from
    url: str = ""
    bytes: int = 0
    sha1: str = ""
    attempts: int = 0  # HTTP requests made for this album, retries and redirects included

    def to_line(self) -> str:
        """The entry as one JSON line."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))


class Ledger:
    """Read and append the ledger of one output folder."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LEDGER
        self.torn_lines = 0

    def load(self) -> dict[str, LedgerEntry]:
        """The latest entry per album id (empty when there is no ledger yet)."""
        out: dict[str, LedgerEntry] = {}
        if not self.path.is_file():
            return out
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                entry = _parse(line)
                if entry is None:
                    self.torn_lines += 1
                    continue
                out[entry.album_id] = entry
        if self.torn_lines:
            log.warning("%s: skipped %d unreadable line(s)", self.path, self.torn_lines)
        return out

    def append(self, entry: LedgerEntry) -> None:
        """Record one album's outcome (durable once this returns)."""
        atomic_append_line(self.path, entry.to_line())


def _parse(line: str) -> LedgerEntry | None:
    try:
        data = json.loads(line)
        entry = LedgerEntry(**data)
    except (json.JSONDecodeError, TypeError):
        return None
    return entry if entry.status in STATUSES and entry.album_id else None
