"""`tag_library`: predict each album of a music library once and (opt-in) write its genre tags.

Reading is always safe: without `write` nothing is touched and the result is the table of albums,
their current genres and the proposed ones. With `write`, every file goes through the ledger
(`library.write`). A re-run with the same ledger resumes: whether an album had genres is judged
by its files before the ledger's first write, so a half-written album is completed, and a file
that already carries the genres it should is left alone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hiergenre.errors import ConfigError, check_choice
from hiergenre.library.albums import Album, Skipped, scan_library
from hiergenre.library.genremap import GenreMap
from hiergenre.library.ledger import Ledger, read_ledger
from hiergenre.library.propose import Proposal, ProposeOptions, propose
from hiergenre.library.write import is_temp, write_track
from hiergenre.predictor import Predictor

log = logging.getLogger(__name__)

MODES = ("fill-empty", "keep-existing", "replace")
LEDGER_NAME = ".hiergenre-ledger.jsonl"


@dataclass(frozen=True)
class TagOptions:
    """What `tag` proposes (`propose`) and how it writes: `mode`, `write`, `ledger`, ID3v2.3 sep."""

    propose: ProposeOptions = ProposeOptions()
    mode: str = "fill-empty"
    write: bool = False
    ledger: Path | None = None  # default: LIBRARY/.hiergenre-ledger.jsonl
    id3v23_sep: str = "/"
    batch_size: int = 32
    workers: int = 2

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, MODES)
        if not self.id3v23_sep:
            raise ConfigError("`id3v23_sep` must not be empty: use '/' or '; '")


@dataclass(frozen=True)
class AlbumResult:
    """One album of the table: its current genres, the proposal and what was done."""

    album: Album
    current: tuple[str, ...]
    proposal: Proposal | None
    action: str  # proposed | written | kept (has genres) | unchanged | no cover | unreadable cover
    written: int = 0  # files written


@dataclass
class TagReport:
    """The albums, the files skipped (with reasons), genres the genre map has nothing for."""

    albums: list[AlbumResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unmapped: Counter = field(default_factory=Counter)
    unknown_in_map: tuple[str, ...] = ()
    ledger: str | None = None

    @property
    def files_written(self) -> int:
        return sum(a.written for a in self.albums)


def default_ledger(library: Path) -> Path:
    """Where `--write` keeps its ledger unless told: a hidden file in the library folder."""
    folder = library if library.is_dir() else library.parent
    return folder / LEDGER_NAME


def _originals(ledger: Path | None) -> dict[str, tuple[str, ...]]:
    """Each file's genres before the first write this ledger records (for a resumed run)."""
    if ledger is None or not ledger.is_file():
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for record in read_ledger(ledger):
        if record.get("op") == "write":
            found.setdefault(record["path"], tuple(record["before_genres"]))
    return found


def new_genres(current: tuple[str, ...], proposed: tuple[str, ...], mode: str) -> tuple[str, ...]:
    """A track's genres after tagging: `replace` -> proposed; `keep-existing` -> current plus the
    proposed ones it lacks (case-insensitive); `fill-empty` -> proposed when it has none (the
    album-level rule, no genre on any track, is `_had_genres`)."""
    if mode == "replace" or not current:
        return proposed
    if mode == "keep-existing":
        have = {g.casefold() for g in current}
        return current + tuple(g for g in proposed if g.casefold() not in have)
    return current


def _had_genres(album: Album, originals: dict) -> bool:
    """Whether any track carried a genre before this ledger's first write (a resumed fill-empty
    run must finish an album it half wrote, not take it for one that has genres)."""
    return any(originals.get(str(t.path.resolve()), t.genres) for t in album.tracks)


def _settle(album, proposal, originals, options, ledger, skipped) -> AlbumResult:
    """Decide (and with a ledger, write) one album."""
    current = album.genres
    if proposal is None:
        return AlbumResult(album, current, None, "no cover")
    if proposal.error:
        return AlbumResult(album, current, proposal, f"unreadable cover ({proposal.error})")
    if not proposal.genres:
        return AlbumResult(album, current, proposal, "unmapped" if proposal.unmapped else "none")
    if options.mode == "fill-empty" and _had_genres(album, originals):
        return AlbumResult(album, current, proposal, "kept (has genres)")
    targets = {t: new_genres(t.genres, proposal.genres, options.mode) for t in album.tracks}
    todo = {t: g for t, g in targets.items() if t.stored(g, options.id3v23_sep) != t.genres}
    if not todo:
        return AlbumResult(album, current, proposal, "unchanged")
    if ledger is None:
        return AlbumResult(album, current, proposal, "proposed")
    written = 0
    for track, genres in todo.items():
        why = write_track(track, genres, options.id3v23_sep, ledger)
        if why is None:
            written += 1
        else:
            skipped.append(Skipped(str(track.path), why))
    action = "written" if written == len(todo) else f"written {written} of {len(todo)} files"
    return AlbumResult(album, current, proposal, action, written)


def _remove_stale_temps(library: Path) -> None:
    """Temporary copies a killed write left behind (the files themselves are intact)."""
    if library.is_dir():
        for tmp in library.rglob(".*"):
            if tmp.is_file() and is_temp(tmp):
                log.info("removing %s, left by an interrupted run", tmp)
                tmp.unlink(missing_ok=True)


def tag_library(
    predictor: Predictor,
    library: str | Path,
    options: TagOptions = TagOptions(),
    genre_map: GenreMap | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> TagReport:
    """Scan, predict once per album, and write when `options.write` (see the module doc).
    `progress(stage, done, total)` with stage scan | predict | write."""
    library = Path(library)

    def step(stage: str) -> Callable[[int, int], None] | None:
        return None if progress is None else lambda d, t: progress(stage, d, t)

    ledger_path = (options.ledger or default_ledger(library)) if options.write else None
    if options.write:
        _remove_stale_temps(library)
    albums, skipped = scan_library(library, step("scan"))
    covered = [a for a in albums if a.cover is not None]
    proposals = propose(predictor, [a.cover for a in covered], options.propose, genre_map,
                        batch_size=options.batch_size, workers=options.workers,
                        progress=step("predict"))  # fmt: skip
    by_album = {id(a): p for a, p in zip(covered, proposals, strict=True)}
    report = TagReport(skipped=skipped, ledger=None if ledger_path is None else str(ledger_path))
    report.unknown_in_map = genre_map.unknown if genre_map is not None else ()
    originals = _originals(ledger_path)
    ledger = Ledger(ledger_path) if ledger_path is not None else None
    try:
        for n, album in enumerate(albums, 1):
            proposal = by_album.get(id(album))
            if proposal is not None and proposal.unmapped:
                report.unmapped[proposal.unmapped] += 1
            report.albums.append(_settle(album, proposal, originals, options, ledger, skipped))
            if progress is not None:
                progress("write", n, len(albums))
    finally:
        if ledger is not None:
            ledger.close()
    return report
