"""`fetch_covers`: download the covers a source lists into a folder `import_collection` reads.

Per album, the candidate sources are tried in `sources` order (the Cover Art Archive front cover
by MusicBrainz id, then the given URL); the first cover that verifies wins. Each cover is
written to a temporary name, verified (it decodes as an image: not empty, not HTML, not
truncated), fsynced and renamed to `<album_id>.jpg`; then its outcome goes to the ledger. A
re-run skips albums the ledger (or the folder) already holds; `retry_failed` tries the failures
again. A KeyboardInterrupt stops cleanly: downloads in flight are dropped, nothing half-written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from hiergenre.data.fetch_source import (
    MBID_KINDS,
    SIZES,
    SOURCES,
    FetchItem,
    candidates,
    read_items,
)
from hiergenre.data.http import Download, Downloader, HttpPolicy
from hiergenre.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from hiergenre.data.ledger import Ledger, LedgerEntry
from hiergenre.data.parallel import Progress
from hiergenre.errors import ConfigError, check_choice
from hiergenre.fileio import atomic_path

log = logging.getLogger(__name__)

TEMP_GLOB = ".*.tmp"  # what `atomic_path` leaves behind when a process is killed


def _version() -> str:
    """The installed package's version (the package root sits above the data layer)."""
    try:
        return metadata.version("hiergenre")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class FetchConfig:
    """Every default of `hiergenre data fetch`."""

    sources: tuple[str, ...] = ("caa", "url")
    size: int = 500
    caa_base_url: str = "https://coverartarchive.org"
    mbid_kind: str = "release-group"
    workers: int = 8
    contact: str = ""
    retry_failed: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    http: HttpPolicy = field(default_factory=lambda: HttpPolicy(user_agent=""))

    def user_agent(self) -> str:
        """`hiergenre/<version> (+<contact>)`: who is asking and how to reach them."""
        contact = f" (+{self.contact})" if self.contact else ""
        return f"hiergenre/{_version()}{contact}"

    def validate(self) -> None:
        """ConfigError (one line) for a value out of range."""
        for source in self.sources:
            check_choice("`sources` entry", source, SOURCES)
        check_choice("`mbid_kind`", self.mbid_kind, MBID_KINDS)
        if self.size not in SIZES:
            raise ConfigError(f"`size` {self.size} is not valid: choose 250, 500 or 1200.")
        if self.workers < 1 or self.http.rate_per_host <= 0 or self.http.max_redirects < 0:
            raise ConfigError("`workers` and `rate` must be positive, `max_redirects` >= 0.")


@dataclass
class FetchSummary:
    """What a fetch did: outcomes by (status, reason), sources used, bytes, requests."""

    albums: int = 0
    skipped_input: list[dict] = field(default_factory=list)
    already_done: int = 0  # ok in the ledger (or found on disk) before this run
    skipped_failures: int = 0  # earlier not-found / failed, not retried without retry_failed
    outcomes: Counter = field(default_factory=Counter)  # "status" or "status:reason" -> albums
    sources: Counter = field(default_factory=Counter)
    bytes: int = 0
    requests: int = 0
    stale_temp_removed: int = 0
    interrupted: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        out = dict(self.__dict__)
        out["outcomes"] = dict(sorted(self.outcomes.items()))
        out["sources"] = dict(self.sources)
        return out


@dataclass(frozen=True)
class FetchPlan:
    """What a fetch would do (`--dry-run`)."""

    albums: int
    skipped_input: list[dict]
    already_done: int
    skipped_failures: int
    to_fetch: int
    by_sources: dict[str, int]  # "caa+url" / "caa" / "url" / "none" -> albums to fetch
    examples: list[tuple[str, str, str]]  # (album_id, source, url)


def plan_fetch(source: str | Path, out_dir: str | Path, config: FetchConfig) -> FetchPlan:
    """The fetch plan for `source` into `out_dir`, without any network request."""
    config.validate()
    items, skipped = read_items(source)
    todo, done, failures, _ = _split_done(items, Path(out_dir), config, Ledger(out_dir).load())
    shapes: Counter = Counter()
    examples = []
    for item in todo:
        cands = _candidates(item, config)
        shapes["+".join(s for s, _ in cands) or "none"] += 1
        examples.extend((item.album_id, s, u) for s, u in cands if len(examples) < 6)
    return FetchPlan(len(items), skipped, done, failures, len(todo), dict(shapes), examples)


def fetch_covers(
    source: str | Path,
    out_dir: str | Path,
    config: FetchConfig = FetchConfig(),
    progress: Progress | None = None,
) -> FetchSummary:
    """Fetch every album's cover from `source` into `out_dir`; returns the summary."""
    config.validate()
    start = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = FetchSummary()
    for stale in out_dir.glob(TEMP_GLOB):
        stale.unlink(missing_ok=True)
        summary.stale_temp_removed += 1
    items, summary.skipped_input = read_items(source)
    summary.albums = len(items)
    ledger = Ledger(out_dir)
    todo, summary.already_done, summary.skipped_failures, found = _split_done(
        items, out_dir, config, ledger.load()
    )
    for entry in found:  # covers renamed into place just before a kill, ledger line not written
        ledger.append(entry)
    policy = dataclasses.replace(config.http, user_agent=config.user_agent())
    _run(todo, out_dir, config, policy, ledger, summary, progress)
    summary.seconds = round(time.monotonic() - start, 3)
    return summary


def _candidates(item: FetchItem, config: FetchConfig) -> list[tuple[str, str]]:
    return candidates(item, config.sources, config.caa_base_url, config.mbid_kind, config.size)


def _split_done(items, out_dir: Path, config: FetchConfig, entries: dict[str, LedgerEntry]):
    """(albums to fetch, albums done, earlier failures skipped, ledger entries for covers found)."""
    todo, found, done, failures = [], [], 0, 0
    for item in items:
        entry, path = entries.get(item.album_id), out_dir / item.file_name
        if entry is not None and entry.status == "ok" and path.is_file():
            done += 1
        elif entry is not None and entry.status != "ok" and not config.retry_failed:
            failures += 1
        elif entry is None and path.is_file() and _verify(path, config.max_pixels) is None:
            data = path.read_bytes()
            sha1 = hashlib.sha1(data).hexdigest()
            found.append(LedgerEntry(item.album_id, "ok", "on-disk", "", "", len(data), sha1))
            done += 1
        else:
            todo.append(item)
    return todo, done, failures, found


def _verify(path: Path, max_pixels: int) -> str | None:
    """None if `path` decodes as a whole image, else the reason (`not-an-image`, `truncated`...)."""
    try:
        decode_image(path, max_pixels=max_pixels)
    except ImageDecodeError as exc:
        return exc.reason
    return None


class _Rejected(Exception):
    pass


def _fetch_one(item: FetchItem, out_dir: Path, config: FetchConfig, get) -> LedgerEntry:
    """Try each candidate source; write the first cover that verifies; the album's outcome."""
    requests, failure = 0, None
    cands = _candidates(item, config)
    if not cands:
        return LedgerEntry(item.album_id, "not-found", "no-source")
    for source, url in cands:
        got = get(url)
        requests += got.requests
        if got.reason == "interrupted":
            return LedgerEntry(item.album_id, "failed", "interrupted", source, url, 0, "", requests)
        if got.status == "ok":
            try:
                with atomic_path(out_dir / item.file_name) as tmp:
                    tmp.write_bytes(got.body)
                    reason = _verify(tmp, config.max_pixels)
                    if reason is not None:
                        raise _Rejected(reason)
            except _Rejected as exc:
                got = Download("failed", str(exc), url=got.url)
            else:
                sha1 = hashlib.sha1(got.body).hexdigest()
                size = len(got.body)
                return LedgerEntry(item.album_id, "ok", "", source, got.url, size, sha1, requests)
        # A real failure says more than a 404 elsewhere: keep the first failure, else a 404.
        if failure is None or (failure[0] == "not-found" and got.status == "failed"):
            failure = (got.status, got.reason, source, got.url)
    status, reason, source, url = failure
    return LedgerEntry(item.album_id, status, reason, source, url, 0, "", requests)


def _run(todo, out_dir, config, policy, ledger, summary, progress) -> None:
    """Fetch `todo` over `config.workers` threads; the main thread writes the ledger."""
    stop = threading.Event()
    downloader = Downloader(policy, stop)
    inflight: dict[Future, FetchItem] = {}
    queue = iter(todo)
    done, total = 0, len(todo)

    def record(future: Future, report: bool) -> None:
        nonlocal done
        inflight.pop(future)
        entry = future.result()
        if entry.reason == "interrupted":
            return
        ledger.append(entry)
        summary.outcomes[entry.status + (f":{entry.reason}" if entry.reason else "")] += 1
        summary.requests += entry.attempts
        if entry.status == "ok":
            summary.sources[entry.source] += 1
            summary.bytes += entry.bytes
        done += 1
        if report and progress:
            progress(done, total)

    if progress:
        progress(0, total)
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        try:
            while True:
                while len(inflight) < 2 * config.workers and (item := next(queue, None)):
                    job = pool.submit(_fetch_one, item, out_dir, config, downloader.get)
                    inflight[job] = item
                if not inflight:
                    break
                finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for future in finished:
                    record(future, report=True)
        except KeyboardInterrupt:
            stop.set()
            summary.interrupted = True
            for future in list(inflight):
                if future.cancel():
                    inflight.pop(future)
            for future in list(inflight):  # finished or dropped; a cover already renamed counts
                record(future, report=False)
        finally:
            downloader.close()
