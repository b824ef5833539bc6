"""Writing genre tags safely, and undoing them exactly.

A file is never edited in place: its bytes are copied to a hidden temporary file beside it, the
genre is written there with mutagen, the byte delta back to the old file is checked and appended
to the ledger (fsynced) and only then is the copy renamed over the file (`os.replace`, atomic).
A kill at any moment leaves each file either as it was or as written, and the ledger names every
written one, so `undo_ledger` can restore it byte for byte.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mutagen import MutagenError

from hiergenre.library.ledger import (
    Ledger,
    apply_delta,
    make_delta,
    read_ledger,
    sha256,
)
from hiergenre.library.tags import Track, write_genres

log = logging.getLogger(__name__)

TMP_MARK = ".hiergenre-tmp"


def temp_name(path: Path) -> Path:
    """The hidden copy a write goes through (same folder and suffix, so mutagen knows it)."""
    return path.with_name(f".{path.name}{TMP_MARK}{path.suffix}")


def is_temp(path: Path) -> bool:
    """Whether `path` is a temporary copy a killed write left behind."""
    return path.name.startswith(".") and TMP_MARK in path.name


def read_only(path: Path) -> bool:
    """No write permission bit set, or the OS refuses writing (root ignores modes: check bits)."""
    mode = path.stat().st_mode
    return not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK)


def _replace(path: Path, tmp: Path) -> None:
    """Rename the finished copy (fsynced first: a crash never leaves a half-written file under
    the name) over `path`, with `path`'s permissions. A rename lost in a crash leaves the file as
    it was, which undo and a re-run recognise by its sha256."""
    shutil.copymode(path, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_track(track: Track, genres: tuple[str, ...], sep: str, ledger: Ledger) -> str | None:
    """Write `genres` into one file through the ledger; None, or why the file was skipped."""

    path = track.path.resolve()  # a symlinked track: write its target, keep the link
    tmp = temp_name(path)
    try:
        if read_only(path):
            return "read-only"
        now = path.stat()
        if (now.st_size, now.st_mtime_ns) != track.stamp:
            return "changed since it was read; run again"
        old = path.read_bytes()
        tmp.write_bytes(old)
        write_genres(tmp, track.kind, genres, sep)
        new = tmp.read_bytes()
        delta = make_delta(old, new)
        before, after = sha256(old), sha256(new)
        if sha256(apply_delta(new, delta)) != before:  # never write what undo could not revert
            return "internal error: the undo delta does not rebuild the file; not written"
        ledger.append({"op": "write", "path": str(path), "before_sha": before,
                       "after_sha": after, "before_genres": list(track.genres),
                       "after_genres": list(genres), "delta": delta})  # fmt: skip
        _replace(path, tmp)
        # informational: undo and resume go by the file's sha256, so this line needs no fsync
        ledger.append({"op": "done", "path": str(path), "after_sha": after}, sync=False)
    except MutagenError as exc:
        return f"cannot write tags ({type(exc).__name__}: {str(exc)[:80]})"
    except OSError as exc:
        return f"cannot write ({exc.strerror or exc})"
    finally:
        tmp.unlink(missing_ok=True)
    return None


@dataclass
class UndoReport:
    """What `undo_ledger` did: files restored, already as before, skipped with reasons."""

    restored: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _undo_one(record: dict) -> str | None:
    """Restore one written file; None when restored, "unchanged", or why it is skipped."""
    path = Path(record["path"])
    temp_name(path).unlink(missing_ok=True)  # a copy left by a killed write: never the file
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    sha = sha256(data)
    if sha == record["before_sha"]:
        return "unchanged"
    if sha != record["after_sha"]:
        return "changed since the ledger was written; not restored"
    if read_only(path):
        return "read-only"
    old = apply_delta(data, record["delta"])
    if sha256(old) != record["before_sha"]:
        return "the ledger's delta does not rebuild the file; not restored"
    tmp = temp_name(path)
    try:
        tmp.write_bytes(old)
        _replace(path, tmp)
    except OSError as exc:
        return f"cannot write ({exc.strerror or exc})"
    finally:
        tmp.unlink(missing_ok=True)
    return None


def undo_ledger(
    ledger: str | Path, progress: Callable[[int, int], None] | None = None
) -> UndoReport:
    """Restore every file a ledger wrote to its bytes before the write, newest write first."""
    writes = [r for r in read_ledger(ledger) if r.get("op") == "write"]
    outcomes: dict[str, list[str | None]] = {}
    for n, record in enumerate(reversed(writes), 1):
        outcomes.setdefault(record["path"], []).append(_undo_one(record))
        if progress is not None:
            progress(n, len(writes))
    report = UndoReport()
    for path, outs in outcomes.items():
        bad = [o for o in outs if o not in (None, "unchanged")]
        if bad:
            report.skipped.append((path, bad[0]))
        elif None in outs:
            report.restored += 1
        else:
            report.unchanged += 1
    return report
