"""The beets plugin in a real, temporary beets library: `beet import` (the import hook) and
`beet hiergenre QUERY`, genres written to the files by beets' own tag layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mutagen
import pytest
from audiolib import TrackSpec, make_track

from hiergenre.library import propose
from hiergenre.predictor import load_predictor

pytest.importorskip(
    "beets", reason="the beets plugin tests need beets: pip install hiergenre[beets]"
)
SRC = Path(__file__).resolve().parents[1] / "src"


def beet(beetsdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the `beet` CLI of this Python on the config in `beetsdir` (this checkout's plugin)."""
    env = {**os.environ, "BEETSDIR": str(beetsdir), "PYTHONPATH": f"{SRC}{os.pathsep}"
           f"{os.environ.get('PYTHONPATH', '')}", "HOME": str(beetsdir)}  # fmt: skip
    code = "import sys; from beets.ui import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def genres(path: Path) -> list[str]:
    audio = mutagen.File(path)
    if path.suffix == ".mp3":
        return [str(t) for f in audio.tags.getall("TCON") for t in f.text]
    return list(audio.tags.get("genre", []))


@pytest.fixture(scope="module")
def setup(audio_base, tiny_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("beets")
    covers = sorted((tiny_run / "data" / "images").glob("*.jpg"))
    incoming = root / "incoming"
    specs = {"one": TrackSpec("flac", "First Album", "Band A", cover=covers[0].read_bytes()),
             "two": TrackSpec("mp3", "Second Album", "Band B", cover=covers[1].read_bytes()),
             "old": TrackSpec("flac", "Old Album", "Band C", ("Jazz",),
                              cover=covers[2].read_bytes())}  # fmt: skip
    for name, spec in specs.items():
        make_track(
            audio_base,
            incoming / name / f"01 {name}{'.mp3' if spec.fmt == 'mp3' else '.flac'}",
            spec,
        )
    (root / "config.yaml").write_text(
        f"directory: {root / 'music'}\nlibrary: {root / 'library.db'}\n"
        "plugins: hiergenre\nimport:\n  write: yes\n  copy: yes\n  autotag: no\n  quiet: yes\n"
        f"hiergenre:\n  run: {tiny_run / 'run'}\n  levels: '1'\n  device: cpu\n"
    )
    return root, covers


@pytest.mark.slow
def test_import_hook_then_beet_hiergenre(setup, tiny_run):
    root, covers = setup
    done = beet(root, "import", str(root / "incoming"))
    assert done.returncode == 0, done.stderr
    files = {p.parent.name: p for p in (root / "music").rglob("*") if p.suffix in (".flac", ".mp3")}
    predictor = load_predictor(tiny_run / "run", device="cpu")
    names = ("First Album", "Second Album")
    level1 = {name: propose(predictor, [files[name]])[0].path[0] for name in names}
    listed = beet(root, "ls", "-a", "-f", "$album: $genres")  # set at import (levels 1)
    assert f"First Album: {level1['First Album']}" in listed.stdout
    assert f"Second Album: {level1['Second Album']}" in listed.stdout
    assert "Old Album: Jazz" in listed.stdout  # fill-empty keeps an album's genres
    # beets writes tags of an import it autotags; this one is not autotagged (offline): `beet
    # write` puts the database's genres into the files through beets' tag layer
    assert beet(root, "write").returncode == 0
    assert genres(files["First Album"]) == [level1["First Album"]]
    assert genres(files["Second Album"]) == [level1["Second Album"]]
    assert genres(files["Old Album"]) == ["Jazz"]
    full = propose(predictor, [files["Old Album"]])[0].path
    done = beet(root, "hiergenre", "--replace", "--levels", "path", "album:Old Album")
    assert done.returncode == 0, done.stderr
    assert genres(files["Old Album"]) == list(full)  # through beets: several GENRE fields
    done = beet(root, "hiergenre", "--keep-existing", "--levels", "leaf", "album:First")
    assert done.returncode == 0, done.stderr
    first = propose(predictor, [files["First Album"]])[0].path
    want = [level1["First Album"]] + ([first[-1]] if len(first) > 1 else [])
    assert genres(files["First Album"]) == want
    shutil.rmtree(root / "music")
