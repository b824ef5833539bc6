"""Real audio files for the library tests: 0.2 s of tone encoded by ffmpeg (MP3, FLAC, M4A/AAC,
Ogg Opus), then tagged with mutagen (album, artists, genres, embedded covers), as music
libraries hold them."""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FORMATS = {"mp3": ("libmp3lame", ".mp3"), "flac": ("flac", ".flac"), "m4a": ("aac", ".m4a"),
           "opus": ("libopus", ".opus")}  # fmt: skip


def need_ffmpeg() -> str:
    """The ffmpeg binary, or skip loudly (`.ci/run` installs Debian's ffmpeg)."""
    found = shutil.which("ffmpeg")
    if found is None:
        pytest.skip(
            "SKIPPED LOUDLY: ffmpeg is not installed (apt-get install ffmpeg; .ci/run does it): "
            "the audio-library tests need it to make MP3/M4A/Opus files"
        )
    return found


def make_base_audio(folder: Path) -> dict[str, Path]:
    """One 0.2 s tone per format, encoded by ffmpeg."""
    ffmpeg = need_ffmpeg()
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (codec, suffix) in FORMATS.items():
        path = folder / f"tone{suffix}"
        rate = "48000" if name == "opus" else "44100"
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"sine=frequency=440:duration=0.2:sample_rate={rate}", "-c:a", codec,
                        str(path)], check=True, timeout=60)  # fmt: skip
        out[name] = path
    return out


@dataclass(frozen=True)
class TrackSpec:
    """What a generated track carries."""

    fmt: str
    album: str
    artist: str
    genres: tuple[str, ...] = ()
    cover: bytes | None = None
    cover_type: int = 3  # 3 = front cover; 0 = "other"
    id3v23: bool = False
    title: str = "Track"


def tag_file(path: Path, spec: TrackSpec) -> None:
    """Write album, artist, album artist, title, genres and a picture with mutagen."""
    if spec.fmt == "mp3":
        from mutagen.id3 import APIC, ID3, TALB, TCON, TIT2, TPE1, TPE2

        tags = ID3(path)
        tags.add(TALB(encoding=3, text=spec.album))
        tags.add(TPE1(encoding=3, text=spec.artist))
        tags.add(TPE2(encoding=3, text=spec.artist))
        tags.add(TIT2(encoding=3, text=spec.title))
        if spec.genres:
            tags.add(TCON(encoding=3, text=list(spec.genres)))
        if spec.cover:
            tags.add(APIC(encoding=3, mime="image/jpeg", type=spec.cover_type, desc="",
                          data=spec.cover))  # fmt: skip
        tags.save(path, v2_version=3 if spec.id3v23 else 4)
    elif spec.fmt == "m4a":
        from mutagen.mp4 import MP4, MP4Cover

        audio = MP4(path)
        audio["\xa9alb"], audio["\xa9ART"], audio["aART"] = spec.album, spec.artist, spec.artist
        audio["\xa9nam"] = spec.title
        if spec.genres:
            audio["\xa9gen"] = list(spec.genres)
        if spec.cover:
            audio["covr"] = [MP4Cover(spec.cover, MP4Cover.FORMAT_JPEG)]
        audio.save()
    else:
        from mutagen import File
        from mutagen.flac import Picture

        audio = File(path)
        audio["album"], audio["artist"], audio["albumartist"] = spec.album, spec.artist, spec.artist
        audio["title"] = spec.title
        if spec.genres:
            audio["genre"] = list(spec.genres)
        if spec.cover:
            pic = Picture()
            pic.type, pic.mime, pic.data = spec.cover_type, "image/jpeg", spec.cover
            if spec.fmt == "flac":
                audio.add_picture(pic)
            else:
                audio["metadata_block_picture"] = [base64.b64encode(pic.write()).decode("ascii")]
        audio.save()


def make_track(base: dict[str, Path], path: Path, spec: TrackSpec) -> Path:
    """Copy the format's tone to `path` and tag it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base[spec.fmt], path)
    tag_file(path, spec)
    return path


def generated_library(base: dict[str, Path], root: Path, covers: list[bytes], n: int) -> Path:
    """`n` albums of 1-2 tracks cycling through the formats, unicode names, a front cover in
    most, a sidecar cover.jpg in some, an existing genre in every fifth, ID3v2.3 in some MP3s."""
    fmts = list(FORMATS)
    for i in range(n):
        fmt = fmts[i % len(fmts)]
        folder = root / f"Artïst {i % 7}" / f"Albüm {i:03d} ♪"
        genres = ("Jazz",) if i % 5 == 0 else ()
        cover = covers[i % len(covers)]
        sidecar = i % 9 == 4
        for t in range(1 + i % 2):
            spec = TrackSpec(fmt, f"Albüm {i:03d}", f"Artïst {i % 7}", genres,
                             None if sidecar or t else cover, id3v23=i % 8 == 0,
                             title=f"Song {t}")  # fmt: skip
            make_track(base, folder / f"{t + 1:02d} Sông{FORMATS[fmt][1]}", spec)
        if sidecar:
            (folder / "cover.jpg").write_bytes(cover)
    return root
