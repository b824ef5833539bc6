"""Atomic file writes: the one place in the package that puts a file under its final name.

A write goes to a temporary file in the same directory, is flushed and fsynced, then renamed
with `os.replace`, so a kill or a full disk never leaves a half-written file under the final
name; the temporary file is removed when anything fails.

    >>> atomic_write_text(tmp / "a.json", '{"x": 1}')   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def json_safe(x: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, tuples -> lists, recursively (strict JSON)."""
    if hasattr(x, "item") and not isinstance(x, (list, dict)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on a clean exit it is fsynced and renamed onto `path`.

    For writers that want a file name (safetensors, onnx, numpy memmaps) rather than bytes.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, *, default: Callable | None = None) -> None:
    """Write `obj` as indented JSON (plus a newline) to `path` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=default) + "\n")


def atomic_append_line(path: str | Path, line: str) -> None:
    """Append one line and fsync it: a reader sees the whole line or none of it after a crash
    (a torn last line is the only possible damage, and readers skip it)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")
        fh.flush()
        os.fsync(fh.fileno())
