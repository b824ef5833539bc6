"""Genre tags per format, read and written with mutagen; nothing but the genre is changed.

- MP3 (ID3v2): one `TCON` frame. ID3v2.4 stores several genres as several values of that frame;
  a v2.3 tag keeps its version and joins them with `id3v23_sep` (v2.3 has no multi-value text).
- FLAC, Ogg Vorbis, Ogg Opus (Vorbis comments): one `GENRE` field per genre.
- MP4 / M4A: the `©gen` atom with one value per genre.

`read_track` reads what grouping and the table need (album, album artist, genres, pictures);
`write_genres` edits one file in place (the caller hands it a copy: see `library.tag`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON, ID3FileType, ID3NoHeaderError
from mutagen.mp4 import MP4

from hiergenre.data.audio import FRONT_COVER, AudioReadError, open_audio, pictures

log = logging.getLogger(__name__)

MP4_GENRE = "\xa9gen"


@dataclass(frozen=True)
class Track:
    """One audio file of the library: what its tags say, or why it cannot be read."""

    path: Path
    album: str = ""
    albumartist: str = ""
    genres: tuple[str, ...] = ()
    front_cover: bool = False  # a picture of type 3 (or an MP4 cover) is embedded
    picture_bytes: int = 0  # size of its largest embedded picture (0: none)
    error: str | None = None
    kind: type | None = None  # the mutagen class that read it (MP3, FLAC, MP4, OggOpus, ...)
    stamp: tuple[int, int] = (0, 0)  # (size, mtime_ns) when read: a later change is detected
    id3v23: bool = False  # an ID3v2.3 tag: several genres are stored as one joined text

    def stored(self, genres: tuple[str, ...], id3v23_sep: str) -> tuple[str, ...]:
        """The values `genres` are read back as from this file once written."""
        return (id3v23_sep.join(genres),) if self.id3v23 and len(genres) > 1 else genres


def _first(values) -> str:
    values = [str(v) for v in (values or []) if str(v).strip()]
    return values[0].strip() if values else ""


def _fields(audio) -> tuple[str, str, tuple[str, ...]]:
    """(album, album artist or artist, genres) of a mutagen object."""

    tags = audio.tags
    if tags is None:
        return "", "", ()
    if isinstance(tags, ID3):

        def text(key: str) -> list[str]:
            return [str(t) for f in tags.getall(key) for t in f.text]

        artist = _first(text("TPE2")) or _first(text("TPE1"))
        return _first(text("TALB")), artist, tuple(text("TCON"))
    if isinstance(audio, MP4):
        artist = _first(tags.get("aART")) or _first(tags.get("\xa9ART"))
        return _first(tags.get("\xa9alb")), artist, tuple(str(g) for g in tags.get(MP4_GENRE, []))
    artist = (
        _first(tags.get("albumartist"))
        or _first(tags.get("album artist"))
        or _first(tags.get("artist"))
    )
    return _first(tags.get("album")), artist, tuple(tags.get("genre", []))


def read_track(path: str | Path) -> Track:
    """The tags of one audio file; a file mutagen cannot read is a Track with `error` set."""
    path = Path(path)
    try:
        stat = path.stat()
        audio = open_audio(path)
        album, artist, genres = _fields(audio)
        found = pictures(audio)
    except AudioReadError as exc:
        return Track(path, error=f"unreadable ({exc})")
    except OSError as exc:
        return Track(path, error=f"unreadable ({exc.strerror or exc})")
    front = any(p.type == FRONT_COVER and p.data for p in found)
    largest = max((len(p.data) for p in found), default=0)
    genres = tuple(g for g in genres if g.strip())
    stamp = (stat.st_size, stat.st_mtime_ns)
    v23 = _is_id3(type(audio)) and audio.tags is not None and audio.tags.version[1] < 4
    return Track(path, album, artist, genres, front, largest, None, type(audio), stamp, v23)


def write_genres(path: str | Path, kind: type, genres: tuple[str, ...], id3v23_sep: str) -> None:
    """Set the genre tag of the file at `path` (a file of mutagen class `kind`) to `genres`."""

    if _is_id3(kind):
        _write_id3(Path(path), genres, id3v23_sep)
        return
    audio = kind(path)
    if audio.tags is None:
        audio.add_tags()
    key = MP4_GENRE if issubclass(kind, MP4) else "genre"
    if genres:
        audio.tags[key] = list(genres)
    elif key in audio.tags:
        del audio.tags[key]
    if issubclass(kind, FLAC):
        audio.save(deleteid3=False)
    else:
        audio.save()


def _is_id3(kind: type) -> bool:

    return issubclass(kind, ID3FileType)


def _write_id3(path: Path, genres: tuple[str, ...], sep: str) -> None:
    """TCON of an ID3v2 tag, keeping the tag's version (2.3 stays 2.3; 2.2 is written as 2.3)."""

    try:
        version = ID3(path).version[1]
    except ID3NoHeaderError:
        version = 4
    v2 = 4 if version == 4 else 3
    try:
        tags = ID3(path, v2_version=v2)
    except ID3NoHeaderError:
        tags = ID3()
    tags.delall("TCON")
    if genres:
        tags.add(TCON(encoding=3 if v2 == 4 else 1, text=list(genres)))
    tags.save(path, v2_version=v2, v23_sep=sep)
