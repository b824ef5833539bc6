"""`hiergenre tag --write` killed with SIGKILL mid-run, then `--undo` or a re-run; and a library
of 200 albums (mixed formats) written and undone byte for byte."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audiolib import generated_library

from hiergenre.cli.main import main
from hiergenre.library.ledger import read_ledger
from hiergenre.library.tag import default_ledger
from hiergenre.library.tags import read_track

SRC = Path(__file__).resolve().parents[1] / "src"
AUDIO = (".mp3", ".flac", ".m4a", ".opus")


def hashes(root: Path) -> dict[str, str]:
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def covers(tiny_run: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((tiny_run / "data" / "images").glob("*.jpg"))[:8]]


def tag_and_kill(library: Path, run: Path, after_lines: int) -> int:
    """Start `hiergenre tag --write` and SIGKILL it once the ledger holds `after_lines` lines;
    returns how many lines the ledger held at the kill."""
    ledger = default_ledger(library)
    code = "import sys; from hiergenre.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-c", code, "tag", str(library), "--run", str(run),
                             "--write", "--replace", "-q", "--batch-size", "4"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    start = len(read_ledger(ledger)) if ledger.exists() else 0
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ledger.exists() and len(ledger.read_bytes().splitlines()) >= start + after_lines:
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before it could be killed: use more albums"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    return len(ledger.read_bytes().splitlines())


@pytest.mark.slow
def test_kill_9_mid_write_then_undo_or_resume(audio_base, tiny_run, tmp_path):
    library = generated_library(audio_base, tmp_path / "lib", covers(tiny_run), 60)
    original = hashes(library)
    run = tiny_run / "run"
    tag_and_kill(library, run, after_lines=7)
    assert hashes(library) != original  # some files were written before the kill
    assert main(["tag", "--undo", str(default_ledger(library)), "-q"]) == 0
    assert hashes(library) == original
    default_ledger(library).unlink()
    tag_and_kill(library, run, after_lines=11)
    assert main(["tag", str(library), "--run", str(run), "--write", "--replace", "-q"]) == 0
    tracks = [read_track(p) for p in library.rglob("*") if p.suffix in AUDIO]
    assert all(t.genres for t in tracks)  # the re-run finished what the killed run started
    records = read_ledger(default_ledger(library))
    assert len({r["path"] for r in records if r["op"] == "write"}) == len(tracks)
    assert not [p for p in library.rglob(".*") if "hiergenre-tmp" in p.name]
    assert main(["tag", "--undo", str(default_ledger(library)), "-q"]) == 0
    assert hashes(library) == original


@pytest.mark.slow
def test_200_album_library_write_then_undo_is_byte_identical(audio_base, tiny_run, tmp_path):
    library = generated_library(audio_base, tmp_path / "big", covers(tiny_run), 200)
    original = hashes(library)
    assert len(original) == 300 + 22  # 300 tracks in 200 albums, 22 sidecar cover.jpg files
    run = str(tiny_run / "run")
    assert main(["tag", str(library), "--run", run, "--write", "--replace", "-q"]) == 0
    tracks = [read_track(p) for p in library.rglob("*") if p.suffix in AUDIO]
    assert len(tracks) == 300 and all(t.genres for t in tracks)
    changed = hashes(library)
    assert sum(changed[k] != v for k, v in original.items()) == 300  # every audio file
    assert main(["tag", "--undo", str(default_ledger(library)), "-q"]) == 0
    assert hashes(library) == original
