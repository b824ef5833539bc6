"""Predict many covers: find them, predict each, write one row per cover (CSV or JSONL).

Inputs are files, folders (searched recursively for images and for audio files, whose embedded
cover is used; extensions compared case-insensitively), glob patterns, and list files (`.txt`: one
path per line; `.csv`: a `path` or `image` column, else the first column; relative paths in a list
are relative to the list file's folder). A cover that cannot be found or decoded becomes a
`skipped` row with its reason; nothing stops the run.

Under torchrun (`WORLD_SIZE` > 1) each process tags a contiguous slice of the covers into its own
part file beside `out` (`.<out>.shards-<digest>/part-<rank>-of-<world>.jsonl`, written atomically,
so a rerun of the same job reuses the parts already done); the parts are gathered in rank order
and rank 0 writes `out`: the same file as one process writes.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import logging
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist

from hiergenre.data.audio import AUDIO_SUFFIXES
from hiergenre.data.images import IMAGE_SUFFIXES
from hiergenre.errors import ConfigError, DataError
from hiergenre.fileio import atomic_path
from hiergenre.predictor import DecodeOptions, Prediction, Predictor
from hiergenre.runtime import shard_slice
from hiergenre.train.distributed import barrier, init_distributed

log = logging.getLogger(__name__)

LIST_SUFFIXES = (".txt", ".csv", ".lst")
LEVELS = 4  # columns genre_1..genre_4 (the MuMu tree's depth)
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Cover:
    """One input found: a path to predict, or a reason it is skipped before decoding."""

    path: str
    skip: str | None = None


@dataclass(frozen=True)
class TagSummary:
    """What a tagging run did: covers seen, tagged and skipped, and where the rows went."""

    total: int
    ok: int
    skipped: int
    out: str | None


def _is_image(path: Path) -> bool:
    """A cover file, or an audio file whose embedded cover is predicted."""
    return path.suffix.lower() in IMAGE_SUFFIXES + AUDIO_SUFFIXES


def _read_list(path: Path) -> list[Path]:
    """Paths listed in a .txt (one per line, `#` comments) or .csv (path/image/first column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text: save the list as UTF-8") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader(text.splitlines()))
        header = [h.strip().lower() for h in rows[0]] if rows else []
        col = next((header.index(c) for c in ("path", "image", "file") if c in header), None)
        body = rows[1:] if col is not None else rows
        names = [r[col or 0].strip() for r in body if r and len(r) > (col or 0)]
    else:
        names = [line.strip() for line in text.splitlines()]
    return [(path.parent / n) for n in names if n and not n.startswith("#")]


def _expand(arg: str) -> Iterator[Cover]:
    path = Path(arg)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _is_image(p))
        yield from (Cover(str(p)) for p in found)
    elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        for listed in _read_list(path):
            yield from _expand(str(listed)) if listed.is_dir() else [Cover(str(listed))]
    elif path.is_file() or path.is_symlink():
        yield Cover(str(path))
    elif any(c in arg for c in GLOB_CHARS):
        matched = sorted(glob.glob(arg, recursive=True))
        files = [m for m in matched if Path(m).is_file() and _is_image(Path(m))]
        yield from (Cover(m) for m in files) if files else [Cover(arg, "no-match")]
    else:
        yield Cover(arg, "missing")


def collect_covers(inputs: Sequence[str | Path]) -> list[Cover]:
    """Every cover the inputs name, in input order, each path once."""
    if not inputs:
        raise ConfigError("give at least one cover, folder, glob or list file")
    seen: set[str] = set()
    out = []
    for arg in inputs:
        for cover in _expand(str(arg)):
            key = str(Path(cover.path).resolve()) if cover.skip is None else cover.path
            if key not in seen:
                seen.add(key)
                out.append(cover)
    return out


def prediction_row(pred: Prediction, top_k: int) -> dict:
    """One output row: path, status, reason, top path, genre/prob per level, alternatives."""
    row: dict = {"path": pred.source, "status": "skipped" if pred.error else "ok",
                 "reason": pred.error or "", "top_path": "", "score": None}  # fmt: skip
    top = pred.top
    for level in range(1, LEVELS + 1):
        named = top is not None and level <= len(top.names)
        row[f"genre_{level}"] = top.names[level - 1] if named else ""
        row[f"prob_{level}"] = round(top.probs[level - 1], 6) if named else None
    if top is not None:
        row["top_path"] = " > ".join(top.names)
        row["score"] = round(top.score, 6)
    row["alternatives"] = [p.to_dict() for p in pred.paths[1:top_k]]
    return row


def _csv_value(key: str, value) -> str:
    if key == "alternatives":
        return " | ".join(f"{' > '.join(a['path'])} ({a['score']:.4f})" for a in value)
    return "" if value is None else str(value)


def check_out(out: str | Path) -> Path:
    """The output path if it ends in .csv or .jsonl and its folder exists (ConfigError if not)."""
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".jsonl"):
        raise ConfigError(f"`out` {out} must end in .csv or .jsonl")
    if not out.parent.is_dir():
        raise ConfigError(f"`out` {out}: the folder {out.parent} does not exist; create it first")
    return out


def write_rows(rows: Iterable[dict], out: str | Path) -> int:
    """Write rows to `out` (.csv or .jsonl, chosen by suffix) atomically; returns the count."""
    out = check_out(out)
    kind = out.suffix.lower()
    n = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = None
        for row in rows:
            if kind == ".jsonl":
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                if writer is None:
                    writer = csv.DictWriter(fh, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow({k: _csv_value(k, v) for k, v in row.items()})
            n += 1
    return n


def tag_covers(
    predictor: Predictor,
    covers: Sequence[Cover],
    options: DecodeOptions,
    *,
    batch_size: int = 32,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Prediction]:
    """Predictions for every cover in order; covers skipped before decoding keep their reason."""
    readable = [c.path for c in covers if c.skip is None]
    results = predictor.iter_predict(readable, options, batch_size=batch_size, workers=workers,
                                     progress=progress)  # fmt: skip
    for cover in covers:
        if cover.skip is not None:
            if progress is not None:
                progress(1)
            yield Prediction(cover.path, error=cover.skip)
        else:
            yield next(results)


def tag_library(
    predictor: Predictor,
    inputs: Sequence[str | Path],
    options: DecodeOptions,
    out: str | Path | None = None,
    *,
    batch_size: int = 32,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[TagSummary, list[Prediction]]:
    """Tag every cover the inputs name. With `out` (CSV/JSONL) the rows are streamed there;
    without it the predictions are returned for printing. `progress(done, total)` per batch."""
    if out is not None:
        check_out(out)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return _tag_sharded(predictor, inputs, options, out, batch_size, workers, progress)
    covers = collect_covers(inputs)
    preds = tag_covers(predictor, covers, options, batch_size=batch_size, workers=workers,
                       progress=_counting(progress, len(covers)))  # fmt: skip
    kept: list[Prediction] = []
    ok = 0

    def rows() -> Iterator[dict]:
        nonlocal ok
        for pred in preds:
            ok += pred.error is None
            if out is None:
                kept.append(pred)
            yield prediction_row(pred, options.top_k)

    if out is not None:
        write_rows(rows(), Path(out))
    else:
        deque(rows(), maxlen=0)
    return TagSummary(len(covers), ok, len(covers) - ok, None if out is None else str(out)), kept


def _counting(progress: Callable[[int, int], None] | None, total: int) -> Callable[[int], None]:
    """A per-batch callback `step(n)` that reports `progress(done so far, total)`."""
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    return step


def _shards_dir(out: Path, covers: Sequence[Cover], options: DecodeOptions, predictor) -> Path:
    """The folder of a sharded run's part files: keyed by the covers, the options and the run,
    so a part is reused only by a rerun of the same job."""
    h = hashlib.sha256(repr((options, str(predictor.run.run_dir), predictor.backend)).encode())
    for cover in covers:
        h.update(f"{cover.path}\0{cover.skip}\n".encode())
    return out.parent / f".{out.name}.shards-{h.hexdigest()[:12]}"


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _tag_sharded(predictor, inputs, options, out, batch_size, workers, progress):
    """`tag_library` as one rank of a torchrun job (see the module doc)."""

    if out is None:
        raise ConfigError("under torchrun each process tags a part of the covers: pass `out` "
                          "FILE.csv or FILE.jsonl (rank 0 writes it)")  # fmt: skip
    joined = dist.is_available() and dist.is_initialized()
    ctx = init_distributed("cuda" if str(predictor.device).startswith("cuda") else "cpu")
    covers = collect_covers(inputs)
    # whole batches of readable covers per rank: each batch is the one a single process runs
    readable = [i for i, c in enumerate(covers) if c.skip is None]
    part_of = shard_slice(len(readable), ctx.rank, ctx.world_size, align=batch_size)
    edges = [readable[j] if j < len(readable) else len(covers)
             for j in (part_of.start, part_of.stop)]  # fmt: skip
    lo = 0 if ctx.rank == 0 else edges[0]
    hi = len(covers) if ctx.rank == ctx.world_size - 1 else edges[1]
    mine = covers[lo:hi]
    folder = _shards_dir(Path(out), covers, options, predictor)
    folder.mkdir(exist_ok=True)
    part = folder / f"part-{ctx.rank:05d}-of-{ctx.world_size:05d}.jsonl"
    if not part.is_file():
        preds = tag_covers(predictor, mine, options, batch_size=batch_size, workers=workers,
                           progress=_counting(progress, len(mine)))  # fmt: skip
        write_rows((prediction_row(p, options.top_k) for p in preds), part)
    else:
        log.info("rank %d reuses its finished part %s", ctx.rank, part)
    rows = _read_jsonl(part)
    parts: list = [None] * ctx.world_size
    dist.all_gather_object(parts, rows)  # no shared disk needed between machines
    every = [row for p in parts for row in p]
    if ctx.is_main:
        write_rows(every, Path(out))
    barrier(ctx)
    shutil.rmtree(folder, ignore_errors=True)
    if not joined:
        dist.destroy_process_group()
    ok = sum(row["status"] == "ok" for row in every)
    return TagSummary(len(every), ok, len(every) - ok, str(out)), []
