"""The write-ahead ledger of `hiergenre tag --write`, and the byte delta that makes undo exact.

Each write is one JSON line, flushed and fsynced BEFORE the file is replaced:
`{"op": "write", "path", "before_sha", "after_sha", "before_genres", "after_genres", "delta"}`;
after the replace a `{"op": "done", ...}` line follows. `delta` rebuilds the file's previous bytes
from its new bytes (`make_delta` / `apply_delta`): a list whose items are `[start, length]`
(copy that slice of the new file) or a base64 string (bytes that are not in the new file). A tag
edit changes a few hundred bytes of a file, so the delta is small whatever the format does with
its padding or frame order, and undo restores the file byte for byte, checked by sha256.
A kill leaves at most a final half line, which `read_ledger` ignores: the file it names was
not touched yet (the line is written before the file is replaced).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from hiergenre.errors import DataError

log = logging.getLogger(__name__)

BLOCK = 64  # delta match granularity: matches shorter than this are stored as literals
CHUNK = 1 << 16


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    at = 0
    while at < n and a[at : at + CHUNK] == b[at : at + CHUNK]:
        at += CHUNK
    stop = min(n, at + CHUNK)
    while at < stop and a[at] == b[at]:
        at += 1
    return min(at, n)


def _match_forward(old: bytes, i: int, new: bytes, j: int, stop: int) -> int:
    """Length of old[i:] == new[j:] (old index below `stop`)."""
    n, limit = 0, min(stop - i, len(new) - j)
    while n + 4096 <= limit and old[i + n : i + n + 4096] == new[j + n : j + n + 4096]:
        n += 4096
    while n < limit and old[i + n] == new[j + n]:
        n += 1
    return n


def make_delta(old: bytes, new: bytes) -> list:
    """Ops that rebuild `old` from `new` (see the module doc).

    >>> apply_delta(b"xxAByy", make_delta(b"xxAAAByy", b"xxAByy"))
    b'xxAAAByy'
    """
    p = _common_prefix(old, new)
    s = _common_prefix(old[p:][::-1], new[p:][::-1])
    end_old, end_new = len(old) - s, len(new) - s
    index: dict[bytes, int] = {}
    for k in range(p, end_new - BLOCK + 1, BLOCK):  # new's middle, block-aligned
        index.setdefault(new[k : k + BLOCK], k)
    ops: list = [[0, p]] if p else []
    literal = bytearray()
    i = p
    while i < end_old:
        j = index.get(old[i : i + BLOCK]) if i + BLOCK <= end_old else None
        if j is None:
            literal.append(old[i])
            i += 1
            continue
        back = 0  # extend the match backwards over bytes already taken as literal
        while back < len(literal) and j - back > 0 and new[j - back - 1] == literal[-back - 1]:
            back += 1
        if back:
            del literal[len(literal) - back :]
        if literal:
            ops.append(base64.b64encode(bytes(literal)).decode("ascii"))
            literal.clear()
        n = _match_forward(old, i, new, j, end_old)
        ops.append([j - back, n + back])
        i += n
    if literal:
        ops.append(base64.b64encode(bytes(literal)).decode("ascii"))
    if s:
        ops.append([end_new, s])
    return ops


def apply_delta(new: bytes, ops: list) -> bytes:
    """The bytes `make_delta(old, new)` described, rebuilt from `new`."""
    parts = []
    for op in ops:
        if isinstance(op, str):
            parts.append(base64.b64decode(op))
        else:
            start, length = op
            parts.append(new[start : start + length])
    return b"".join(parts)


class Ledger:
    """An append-only JSONL file whose every line is on disk before `append` returns."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fh = None  # opened by the first append: a run that writes nothing leaves no file

    def append(self, record: dict, sync: bool = True) -> None:
        """Write one record as a line and fsync it (and the folder, for a new ledger); with
        `sync=False` the line is only flushed (for marks nothing depends on)."""
        line = json.dumps({**record, "time": round(time.time(), 3)}, ensure_ascii=False)
        first = self._fh is None
        if first:
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._fh.write(line + "\n")
        self._fh.flush()
        if sync or first:
            os.fsync(self._fh.fileno())
        if first:
            fsync_dir(self.path.parent)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fsync_dir(folder: Path) -> None:
    """fsync a folder, so a rename or a new file in it survives a crash (where supported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_ledger(path: str | Path) -> list[dict]:
    """Every complete record of a ledger, in order (a torn final line is ignored)."""
    records = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                log.warning("%s: ignoring a torn last line (a run killed while writing it)", path)
                continue
            raise DataError(
                f"{path} line {n + 1} is not JSON: the ledger is damaged; restore it from a copy"
            ) from None
    return records
