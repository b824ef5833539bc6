"""Readers: CSV column mapping and the label separator, folder levels, MuMu's three formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hiergenre.data import ImportOptions, import_collection
from hiergenre.data.readers import CsvColumns, read_folders, read_source
from hiergenre.errors import DataError, UnknownGenreError
from hiergenre.taxonomy import Taxonomy

PARENTS = {"Rock": "Music", "Jazz": "Music", "Pop": "Music", "Indie Rock": "Rock",
           "Bebop": "Jazz", "Shoegaze": "Indie Rock"}  # fmt: skip


@pytest.fixture
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS, {"Indie": "Indie Rock"})


def cover(path: Path, seed: int) -> Path:
    """A distinct small JPEG."""
    small = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(small).resize((40, 40), Image.Resampling.BICUBIC).save(path, "JPEG")
    return path


def _discogs_like(src):
    cover(src / "Rock" / "R-1-a.jpg", 1)
    cover(src / "Jazz" / "R-2-b.jpg", 2)
    (src / "manifest.csv").write_text(
        "path,genre,discogs_release_id\nRock/R-1-a.jpg,Rock,1\nJazz/R-2-b.jpg,Jazz;Bebop,2\n"
    )
    return src / "manifest.csv"


def test_csv_columns_are_mapped_by_option(tmp_path, tax):
    manifest = _discogs_like(tmp_path / "src")
    with pytest.raises(DataError, match="`image_col`"):  # the fixed names are not there
        import_collection(manifest, tmp_path / "out", tax)
    cols = CsvColumns(image="path", labels="genre", album_id="discogs_release_id", label_sep=";")
    ds = import_collection(manifest, tmp_path / "out", tax, ImportOptions(columns=cols))
    assert ds.album_ids == ["1", "2"]
    assert ds.label_sets == [["Rock"], ["Jazz", "Bebop"]]


def test_wrong_label_separator_is_one_line_naming_the_option(tmp_path, tax):
    manifest = _discogs_like(tmp_path / "src")
    cols = CsvColumns(image="path", labels="genre", album_id="discogs_release_id")  # sep "|"
    with pytest.raises(DataError) as info:
        import_collection(manifest, tmp_path / "out", tax, ImportOptions(columns=cols))
    text = str(info.value)
    assert "\n" not in text and "`label_sep` ';'" in text and "'Jazz;Bebop'" in text
    # A name that is not several genres is an ordinary unknown genre, not a separator problem.
    (tmp_path / "src" / "manifest.csv").write_text("path,genre\nRock/R-1-a.jpg,Polka;Zydeco\n")
    with pytest.raises(UnknownGenreError):
        import_collection(manifest, tmp_path / "o2", tax, ImportOptions(columns=cols))


def test_folder_levels_map_nested_folders(tmp_path, tax):
    src = tmp_path / "src"
    cover(src / "Rock" / "Live" / "a.jpg", 1)  # an organising sub-folder, not a genre
    cover(src / "Rock" / "Indie" / "Shoegaze" / "b.jpg", 2)
    cover(src / "Jazz" / "c.jpg", 3)
    ds = import_collection(src, tmp_path / "out", tax)  # default: the first level only
    assert dict(zip(ds.album_ids, ds.label_sets, strict=True)) == {
        "Rock/Live/a": ["Rock"], "Rock/Indie/Shoegaze/b": ["Rock"], "Jazz/c": ["Jazz"]}  # fmt: skip
    two = {a.album_id: a.names for a in read_folders(src, levels=2).albums}
    assert two["Rock/Indie/Shoegaze/b"] == ["Rock", "Indie"]
    every = {a.album_id: a.names for a in read_folders(src, levels=0).albums}
    assert every["Rock/Indie/Shoegaze/b"] == ["Rock", "Indie", "Shoegaze"]
    with pytest.raises(UnknownGenreError, match="Live"):  # all levels: Live/ is not a genre
        import_collection(src, tmp_path / "o2", tax, ImportOptions(folder_levels=0))
    with pytest.raises(DataError, match="`folder_levels`"):
        read_source(src, "folders", None, folder_levels=-1)


RECORDS = [
    {"amazon_id": "X1", "categories": [["CDs & Vinyl", "Rock", "Indie Rock"]], "imUrl": "u1"},
    {"asin": "X2", "categories": [["CDs & Vinyl", "Pop"], ["CDs & Vinyl", "Jazz", "Bebop"]]},
]


@pytest.mark.parametrize("layout", ["array", "lines", "python", "python-gz"])
def test_mumu_metadata_in_all_three_formats(tmp_path, tax, layout):
    for aid, seed in (("X1", 1), ("X2", 2)):
        cover(tmp_path / "images" / f"{aid}.jpg", seed)
    if layout == "array":
        text = json.dumps(RECORDS)
    elif layout == "lines":
        text = "\n".join(json.dumps(r) for r in RECORDS)
    else:  # the original Amazon dump: one Python dict literal per line (single quotes)
        text = "\n".join(repr(r) for r in RECORDS)
    path = tmp_path / "amazon_metadata_MuMu.txt"  # the format is read from the content
    if layout.endswith("gz"):
        path = tmp_path / "amazon_metadata_MuMu.json.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    ds = import_collection(path, tmp_path / "out", tax)
    assert ds.report["format"] == "mumu-json"
    assert ds.album_ids == ["X1", "X2"]
    assert ds.label_sets == [["Rock", "Indie Rock"], ["Pop", "Jazz", "Bebop"]]


def test_csv_rows_listing_one_album_per_genre_unite_labels(tmp_path, tax):
    src = tmp_path / "src"
    cover(src / "a.jpg", 1)
    cover(src / "b.jpg", 2)
    (src / "c.csv").write_text(
        "image,labels,album_id\na.jpg,Pop,A\na.jpg,Rock,A\nb.jpg,Jazz,A\nb.jpg,Jazz,B\n"
    )
    ds = import_collection(src / "c.csv", tmp_path / "out", tax)
    assert dict(zip(ds.album_ids, ds.label_sets, strict=True)) == {"A": ["Pop", "Rock"],
                                                                   "B": ["Jazz"]}  # fmt: skip
    assert [(s["album_id"], s["reason"]) for s in ds.report["skipped"]] == [("A", "duplicate-id")]
