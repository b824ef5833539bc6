"""Tagging a library: folder trees, globs, list files, broken covers, CSV/JSONL rows, the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hiergenre.cli.main import main
from hiergenre.predictor import DecodeOptions, load_predictor
from hiergenre.tagging import collect_covers, tag_library


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return load_predictor(tiny_run / "run", device="cpu")


@pytest.fixture
def library(tiny_run, tmp_path) -> Path:
    """A nested tree: good covers with mixed-case extensions, broken files, a non-image."""
    covers = sorted((tiny_run / "data" / "images").glob("*.jpg"))
    lib = tmp_path / "lib"
    (lib / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(covers[0], lib / "a.jpg")
    shutil.copy(covers[1], lib / "B.JPG")
    Image.open(covers[2]).save(lib / "sub" / "c.Png")
    shutil.copy(covers[3], lib / "sub" / "deeper" / "d.jpeg")
    (lib / "sub" / "deeper" / "broken.jpg").write_bytes(covers[4].read_bytes()[:200])
    (lib / "sub" / "empty.JPG").write_bytes(b"")
    (lib / "fake.png").write_text("<html>saved web page</html>")
    (lib / "sub" / "notes.txt").write_text("not a cover")
    return lib


# (relative path, status, reason) in the order the tagger must write them: sorted per folder.
EXPECTED = [
    ("B.JPG", "ok", ""),
    ("a.jpg", "ok", ""),
    ("fake.png", "skipped", "not-an-image"),
    ("sub/c.Png", "ok", ""),
    ("sub/deeper/broken.jpg", "skipped", "truncated"),
    ("sub/deeper/d.jpeg", "ok", ""),
    ("sub/empty.JPG", "skipped", "empty"),
]


def test_csv_rows_for_a_nested_tree_with_broken_files(predictor, library, tmp_path):
    out = tmp_path / "tags.csv"
    options = DecodeOptions(top_k=3)
    summary, _ = tag_library(predictor, [library, library / "../nope.jpg"], options, out,
                             batch_size=2)  # fmt: skip
    assert (summary.total, summary.ok, summary.skipped) == (8, 4, 4)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    expected = [*EXPECTED, ("../nope.jpg", "skipped", "missing")]
    assert len(rows) == len(expected)
    for row, (rel, status, reason) in zip(rows, expected, strict=True):
        assert row["path"] == str(library / rel)
        assert row["status"] == status
        assert row["reason"].split(" (")[0] == reason
        if status != "ok":
            assert row["top_path"] == row["genre_1"] == row["prob_1"] == ""
            continue
        # each cover alone gives the same answer: no shift after a broken cover in the batch
        alone = predictor.predict(library / rel, top_k=3)[0]
        top = alone.top
        assert row["top_path"] == " > ".join(top.names)
        for level in range(1, 5):
            if level <= len(top.names):
                assert row[f"genre_{level}"] == top.names[level - 1]
                assert float(row[f"prob_{level}"]) == pytest.approx(top.probs[level - 1], abs=1e-6)
            else:
                assert row[f"genre_{level}"] == row[f"prob_{level}"] == ""
        alternatives = row["alternatives"].split(" | ")
        assert len(alternatives) == 2
        assert alternatives[0].startswith(" > ".join(alone.paths[1].names) + " (")


def test_jsonl_rows_carry_levels_and_alternatives(predictor, library, tmp_path):
    out = tmp_path / "tags.jsonl"
    tag_library(predictor, [library / "a.jpg", library / "fake.png"], DecodeOptions(top_k=2), out)
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    want = predictor.predict(library / "a.jpg", top_k=2)[0]
    assert first["status"] == "ok" and first["score"] == pytest.approx(want.top.score, abs=1e-6)
    assert first["path"] == str(library / "a.jpg")
    assert [a["path"] for a in first["alternatives"]] == [list(want.paths[1].names)]
    np.testing.assert_allclose(first["alternatives"][0]["probs"], want.paths[1].probs, atol=1e-6)
    assert second["status"] == "skipped" and second["reason"] == "not-an-image"
    assert second["alternatives"] == [] and second["genre_1"] == ""


def test_globs_list_files_and_duplicates(library, tmp_path):
    listed = tmp_path / "covers.txt"
    listed.write_text("# my favourites\nlib/a.jpg\n\nlib/sub\n")
    table = tmp_path / "covers.csv"
    table.write_text("album,path\nx,lib/B.JPG\ny,lib/a.jpg\n")
    covers = collect_covers(
        [listed, table, str(library / "**" / "*.jpeg"), str(tmp_path / "z*.jpg")]
    )
    assert [(Path(c.path).name, c.skip) for c in covers] == [
        ("a.jpg", None),
        ("c.Png", None), ("broken.jpg", None), ("d.jpeg", None), ("empty.JPG", None),
        ("B.JPG", None),  # a.jpg again and d.jpeg (the glob) again are dropped
        ("z*.jpg", "no-match"),
    ]  # fmt: skip


def test_cli_writes_csv_and_exit_code_depends_on_readable_covers(tiny_run, library, tmp_path):
    run = str(tiny_run / "run")
    out = tmp_path / "tags.csv"
    assert main(["predict", str(library), "--run", run, "--out", str(out), "--quiet"]) == 0
    assert [r["status"] for r in csv.DictReader(out.open())] == [e[1] for e in EXPECTED]
    bad = tmp_path / "bad.csv"
    code = main(["predict", str(library / "fake.png"), str(library / "sub" / "empty.JPG"),
                 "--run", run, "--out", str(bad), "-q"])  # fmt: skip
    assert code == 2  # nothing readable: non-zero, and the reasons are still written
    assert [r["reason"] for r in csv.DictReader(bad.open())] == ["not-an-image", "empty"]


@pytest.mark.parametrize(
    "args",
    [["--out", "tags.xlsx"], ["--decode", "sideways"], ["--threshold", "1.5"], ["--top-k", "0"],
     ["--batch-size", "0"]],
)  # fmt: skip
def test_cli_bad_options_exit_2(tiny_run, library, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", str(library), "--run", str(tiny_run / "run"), "-q", *args]) == 2
    assert not (tmp_path / "tags.xlsx").exists()


def test_decode_options_reach_the_rows(tiny_run, predictor, library, tmp_path):
    out = tmp_path / "stop.csv"
    run = str(tiny_run / "run")
    args = ["predict", str(library / "a.jpg"), "--run", run, "--out", str(out), "-q"]
    assert main([*args, "--decode", "threshold", "--threshold", "1.0"]) == 0
    (row,) = csv.DictReader(out.open())
    assert row["genre_1"] and row["genre_2"] == "" and " > " not in row["top_path"]
    for decoder in ("greedy", "beam", "min-distance"):
        assert main([*args, "--decode", decoder, "--top-k", "2"]) == 0
        (row,) = csv.DictReader(out.open())
        want = predictor.predict(library / "a.jpg", top_k=2, decode=decoder)[0]
        assert row["top_path"] == " > ".join(want.top.names)
        assert row["alternatives"].startswith(" > ".join(want.paths[1].names))
