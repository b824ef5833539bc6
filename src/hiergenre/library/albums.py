"""A music library as albums: every audio file read once, grouped, each album given one cover.

Tracks are grouped by their album and album-artist tags (the artist tag when there is no album
artist); tracks without an album tag are grouped by folder. An album's cover is, in this order:
the embedded front cover of its first track that has one; a `cover.*`, `folder.*` or `front.*`
image beside its files; the largest picture embedded in any of its tracks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hiergenre.data.audio import is_audio
from hiergenre.data.images import IMAGE_SUFFIXES
from hiergenre.errors import DataError
from hiergenre.library.tags import Track, read_track

log = logging.getLogger(__name__)

SIDECAR_NAMES = ("cover", "folder", "front")


@dataclass(frozen=True)
class Album:
    """Tracks that share an album; `cover` is the file to predict (an audio file or an image)."""

    title: str
    artist: str
    tracks: tuple[Track, ...]
    cover: Path | None
    cover_from: str  # "embedded" | "sidecar" | "largest embedded" | "none"

    @property
    def name(self) -> str:
        """`Artist - Album`, or the folder for untagged tracks."""
        if self.title:
            return f"{self.artist} - {self.title}" if self.artist else self.title
        return str(self.tracks[0].path.parent)

    @property
    def genres(self) -> tuple[str, ...]:
        """The genres its tracks carry now (each once, in track order)."""
        return tuple(dict.fromkeys(g for t in self.tracks for g in t.genres))


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why."""

    path: str
    reason: str


def audio_files(root: str | Path) -> list[Path]:
    """The audio files of a library folder (recursive, sorted, hidden ones left out), or the
    file itself."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(
            f"{root} is not a folder or an audio file: give your music library's folder"
        )
    found = root.rglob("*")
    return sorted(p for p in found if p.is_file() and is_audio(p) and not _hidden(p, root))


def _hidden(path: Path, root: Path) -> bool:
    """A hidden file or folder below root (write's temporary copies are hidden files)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _sidecar(folders: list[Path]) -> Path | None:
    for folder in folders:
        try:
            names = sorted(p for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
        for stem in SIDECAR_NAMES:
            for p in names:
                if p.stem.lower() == stem and p.suffix.lower() in IMAGE_SUFFIXES:
                    return p
    return None


def _album(tracks: list[Track]) -> Album:
    tracks = sorted(tracks, key=lambda t: str(t.path))
    first = tracks[0]
    front = next((t for t in tracks if t.front_cover), None)
    if front is not None:
        cover, how = front.path, "embedded"
    elif (side := _sidecar(list(dict.fromkeys(t.path.parent for t in tracks)))) is not None:
        cover, how = side, "sidecar"
    elif any(t.picture_bytes for t in tracks):
        cover, how = max(tracks, key=lambda t: t.picture_bytes).path, "largest embedded"
    else:
        cover, how = None, "none"
    return Album(first.album, first.albumartist, tuple(tracks), cover, how)


def album_cover(paths: list[Path]) -> Path | None:
    """The cover file of one album's audio files (the rule above), None when it has none."""
    tracks = [t for t in (read_track(p) for p in paths) if t.error is None]
    return _album(tracks).cover if tracks else None


def group_albums(tracks: list[Track]) -> list[Album]:
    """Albums from readable tracks, in the order of their first file."""
    groups: dict[tuple, list[Track]] = {}
    for track in tracks:
        if track.album:
            key = ("tags", track.albumartist.casefold(), track.album.casefold())
        else:
            key = ("folder", str(track.path.parent))
        groups.setdefault(key, []).append(track)
    return [_album(group) for group in groups.values()]


def scan_library(
    root: str | Path, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Album], list[Skipped]]:
    """Read every audio file under `root` once; (albums, files skipped with their reason)."""
    files = audio_files(root)
    tracks, skipped = [], []
    for n, path in enumerate(files, 1):
        track = read_track(path)
        if track.error:
            skipped.append(Skipped(str(path), track.error))
        else:
            tracks.append(track)
        if progress is not None:
            progress(n, len(files))
    return group_albums(tracks), skipped
