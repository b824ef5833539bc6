"""Bad manifests: the generic CSV importer (`data import x.csv`) and hand-written manifest.csv
files (`data stats DIR`, `load_dataset`). Each ends in exit 2 with one line, or rows reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from hiergenre.data import load_dataset
from hiergenre.errors import DataError
from hiergenre.taxonomy import load_taxonomy


@pytest.fixture
def covers(tmp_path) -> Path:
    """A collection folder with three distinct covers a.jpg, b.jpg, c.jpg."""
    root = tmp_path / "coll"
    root.mkdir()
    for name, colour in (("a", (200, 0, 0)), ("b", (0, 200, 0)), ("c", (0, 0, 200))):
        Image.new("RGB", (24, 24), colour).save(root / f"{name}.jpg")
    return root


def _write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def _import(cli, source: Path, taxonomy: Path, out: Path, *extra: str):
    return cli("data", "import", source, "--out", out, "--taxonomy", taxonomy, *extra)


# --- the generic CSV importer ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "fmt", "needle"),
    [("image,genre", "csv", "lacks column(s) labels"),
     ("picture,labels", "csv", "lacks column(s) image"),
     ("image,genre", "auto", "cannot tell the format")],
)  # fmt: skip
def test_csv_missing_columns(cli, covers, small_taxonomy, tmp_path, header, fmt, needle):
    src = _write(covers / "albums.csv", f"{header}\na.jpg,Rock\n")
    result = _import(cli, src, small_taxonomy, tmp_path / "ds", "--format", fmt)
    result.assert_user_error(needle)
    assert not (tmp_path / "ds").exists()


def test_csv_rows_without_labels_or_with_repeated_ids_are_reported(cli, covers, small_taxonomy,
                                                                   tmp_path):  # fmt: skip
    src = _write(covers / "albums.csv", "album_id,image,labels\nA,a.jpg,Rock\nB,b.jpg,\n"
                 "C,c.jpg, | \nA,c.jpg,Jazz\n")  # fmt: skip
    result = _import(cli, src, small_taxonomy, tmp_path / "ds")
    assert result.code == 0, result.text
    report = json.loads((tmp_path / "ds" / "report.json").read_text())
    assert report["albums_in"] == 4 and report["albums_kept"] == 1
    assert report["skipped_by_reason"] == {"duplicate-id": 1, "no-labels": 2}


def test_csv_unknown_genres_listed_or_dropped(cli, covers, small_taxonomy, tmp_path):
    src = _write(covers / "albums.csv",
                 "image,labels\na.jpg,Rock|Polka\nb.jpg,Polka\nc.jpg,Zydeco|Jazz\n")  # fmt: skip
    failed = _import(cli, src, small_taxonomy, tmp_path / "ds")
    failed.assert_user_error("unknown genres", "'Polka'", "'Zydeco'", "--unknown drop")
    assert not (tmp_path / "ds" / "manifest.csv").exists()
    dropped = _import(cli, src, small_taxonomy, tmp_path / "ds", "--unknown", "drop")
    assert dropped.code == 0, dropped.text
    report = json.loads((tmp_path / "ds" / "report.json").read_text())
    assert report["unknown_genres"] == {"Polka": 2, "Zydeco": 1}
    assert report["skipped_by_reason"] == {"unknown-genre": 1}  # b.jpg had nothing left
    assert report["albums_kept"] == 2 and report["albums_in"] == 3
    labels = load_dataset(tmp_path / "ds", load_taxonomy(small_taxonomy)).label_sets
    assert labels == [["Rock"], ["Jazz"]]


def test_csv_not_utf8_is_refused(cli, covers, small_taxonomy, tmp_path):
    src = _write(covers / "albums.csv", "image,labels\na.jpg,Rock\nb.jpg,Caf\u00e9\n", "latin-1")
    _import(cli, src, small_taxonomy, tmp_path / "ds").assert_user_error("not UTF-8")
    assert not (tmp_path / "ds").exists()


def test_csv_bom_and_windows_line_ends_import_cleanly(cli, covers, small_taxonomy, tmp_path):
    src = _write(covers / "albums.csv", "\ufeffimage,labels\na.jpg,Punk\nb.jpg,Bebop|Jazz\n",
                 "utf-8", "\r\n")  # fmt: skip
    assert _import(cli, src, small_taxonomy, tmp_path / "ds").code == 0
    ds = load_dataset(tmp_path / "ds", load_taxonomy(small_taxonomy))
    assert ds.label_sets == [["Punk"], ["Bebop", "Jazz"]]
    assert [p.name for p in ds.image_paths()] == ["a.jpg", "b.jpg"]


# --- a hand-written manifest.csv -------------------------------------------------------------
MANIFEST_CASES = [
    ("album_id,image\na,a.jpg\n", "lacks column(s) labels"),
    ("album_id,image,labels\na,a.jpg,Rock|Polka\nb,b.jpg,Zydeco\n", "'Polka'; 'Zydeco'"),
    ("album_id,image,labels\na,a.jpg,Rock\na,b.jpg,Jazz\n", "repeats album_id 'a'"),
    ("album_id,image,labels\na,../a.jpg,Rock\n", "leaves the dataset folder"),
    ("album_id,image,labels\na,sub/../../a.jpg,Rock\n", "leaves the dataset folder"),
    ("", "not a readable CSV"),
]


@pytest.mark.parametrize(("text", "needle"), MANIFEST_CASES)
def test_hand_written_manifest_errors(cli, small_taxonomy, tmp_path, text, needle):
    ds = tmp_path / "ds"
    ds.mkdir()
    _write(ds / "manifest.csv", text)
    cli("data", "stats", ds, "--taxonomy", small_taxonomy).assert_user_error(needle)
    with pytest.raises(Exception, match=".") as info:
        load_dataset(ds, load_taxonomy(small_taxonomy))
    assert needle.split("'")[0].strip(" ;") in str(info.value)


def test_hand_written_manifest_unlabelled_album_kept_with_warning(small_taxonomy, tmp_path,
                                                                 caplog):  # fmt: skip
    ds = tmp_path / "ds"
    ds.mkdir()
    _write(ds / "manifest.csv", "album_id,image,labels\na,a.jpg,Rock\nb,b.jpg,\nc,c.jpg, | \n")
    with caplog.at_level("WARNING", logger="hiergenre.data.manifest"):
        dataset = load_dataset(ds, load_taxonomy(small_taxonomy))
    assert dataset.label_sets == [["Rock"], [], []]  # kept: e.g. counted under the root
    assert "2 albums have no labels" in caplog.text


def test_hand_written_manifest_not_utf8(cli, small_taxonomy, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    _write(ds / "manifest.csv", "album_id,image,labels\na,caf\u00e9.jpg,Rock\n", "latin-1")
    cli("data", "stats", ds, "--taxonomy", small_taxonomy).assert_user_error("not a readable CSV")
    with pytest.raises(DataError):
        load_dataset(ds / "manifest.csv", load_taxonomy(small_taxonomy))


def test_hand_written_manifest_bom_crlf_and_paths_inside(small_taxonomy, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    outside = tmp_path / "elsewhere.jpg"
    text = (f"\ufeffalbum_id,image,labels\na,img/a.jpg,Punk\nb,img/../b.jpg,Jazz|Bebop\n"
            f"c,{outside},Metal\n")  # fmt: skip
    _write(ds / "manifest.csv", text, "utf-8", "\r\n")
    dataset = load_dataset(ds, load_taxonomy(small_taxonomy))
    assert dataset.album_ids == ["a", "b", "c"]
    assert dataset.label_sets == [["Punk"], ["Jazz", "Bebop"]] + [["Metal"]]
    paths = dataset.image_paths()
    assert paths[0] == ds / "img/a.jpg" and paths[2] == outside  # absolute: an explicit choice
