"""Pictures embedded in audio files (MP3, FLAC, M4A, Ogg Vorbis/Opus), read with mutagen.

A music library's covers live inside its files: ID3 `APIC` frames, FLAC picture blocks, Vorbis
comments' `METADATA_BLOCK_PICTURE` and MP4 `covr` atoms. `embedded_cover(path)` returns the bytes
of the front cover (picture type 3; an MP4 file's first `covr` image) or else the largest picture,
which `decode_image` then decodes like any cover file, so an audio file and its extracted cover
predict the same.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen.flac import FLAC
from mutagen.flac import Picture as FlacPicture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4, MP4Cover

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".mp3", ".flac", ".m4a", ".mp4", ".m4b", ".ogg", ".oga", ".opus")
FRONT_COVER = 3  # the ID3 / FLAC picture type of the front cover


@dataclass(frozen=True)
class Picture:
    """One embedded picture: its ID3/FLAC picture type (3 = front cover), MIME type, bytes."""

    type: int
    mime: str
    data: bytes


class AudioReadError(Exception):
    """mutagen cannot read the file (not an audio file, truncated, unsupported)."""


def is_audio(path: str | Path) -> bool:
    """Whether the file name ends in an audio suffix this package reads covers from."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def open_audio(path: str | Path):
    """The mutagen object of an audio file (tags, stream info); AudioReadError if unreadable."""

    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        raise AudioReadError(f"{type(exc).__name__}: {str(exc)[:80]}") from None
    if audio is None:
        raise AudioReadError("not an audio file mutagen knows")
    return audio


def pictures(audio) -> list[Picture]:
    """Every picture embedded in a mutagen object, in file order."""

    tags = audio.tags
    if isinstance(audio, FLAC):
        return [Picture(p.type, p.mime, p.data) for p in audio.pictures]
    if isinstance(tags, ID3):
        return [Picture(f.type, f.mime, f.data) for f in tags.getall("APIC")]
    if isinstance(audio, MP4):
        covers = (tags or {}).get("covr", [])
        mimes = {MP4Cover.FORMAT_PNG: "image/png", MP4Cover.FORMAT_JPEG: "image/jpeg"}
        # covr has no picture type: the first image is the one players show as the cover
        return [Picture(FRONT_COVER if i == 0 else 0, mimes.get(c.imageformat, ""), bytes(c))
                for i, c in enumerate(covers)]  # fmt: skip
    found = []
    for value in (tags or {}).get("metadata_block_picture", []) if tags is not None else []:
        try:
            pic = FlacPicture(base64.b64decode(value))
        except Exception as exc:  # a broken picture comment: the others still count
            log.debug("ignoring an unreadable METADATA_BLOCK_PICTURE: %s", exc)
            continue
        found.append(Picture(pic.type, pic.mime, pic.data))
    return found


def choose_cover(found: list[Picture]) -> Picture | None:
    """The front cover, else the largest picture, else None."""
    front = [p for p in found if p.type == FRONT_COVER and p.data]
    if front:
        return front[0]
    sized = [p for p in found if p.data]
    return max(sized, key=lambda p: len(p.data)) if sized else None


def embedded_cover(path: str | Path) -> bytes | None:
    """The bytes of the file's front cover (else its largest picture); None when it has none."""
    cover = choose_cover(pictures(open_audio(path)))
    return cover.data if cover is not None else None
