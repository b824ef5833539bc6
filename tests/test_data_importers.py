"""Importers: folder trees, CSVs, MuMu files; unknown genres, broken files, duplicates, paths."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hiergenre.data import ImportOptions, import_collection, make_split
from hiergenre.data.readers import CsvColumns
from hiergenre.errors import DataError, UnknownGenreError
from hiergenre.taxonomy import Taxonomy, load_taxonomy

PARENTS = {
    "Rock": "Music", "Jazz": "Music", "Pop": "Music", "Classical": "Music",
    "Indie Rock": "Rock", "Hard Rock": "Rock", "Bebop": "Jazz", "Synthpop": "Pop",
    "Theatrical, Incidental & Program Music": "Classical", "Shoegaze": "Indie Rock",
}  # fmt: skip
ALIASES = {"Theatrical": "Theatrical, Incidental & Program Music",
           "Incidental & Program Music": "Theatrical, Incidental & Program Music",
           "Indie": "Indie Rock"}  # fmt: skip


@pytest.fixture
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS, ALIASES)


def cover(path: Path, seed: int, size: int = 48, quality: int = 90) -> Path:
    """A distinct random-blob cover (smooth, so perceptual hashes differ between seeds)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=quality)
    return path


def test_folder_tree_with_broken_files_accounts_for_every_album(tmp_path, tax):
    src = tmp_path / "src"
    cover(src / "Rock" / "a.jpg", 1)
    cover(src / "Indie" / "b.jpg", 2)  # alias folder name
    cover(src / "Rock" / "Shoegaze" / "c.jpg", 3)  # nested: only the first level is a genre
    (src / "Jazz").mkdir()
    (src / "Jazz" / "zero.jpg").write_bytes(b"")
    (src / "Jazz" / "noise.jpg").write_bytes(bytes(range(256)) * 4)
    (src / "Jazz" / "cut.jpg").write_bytes(cover(tmp_path / "x.jpg", 4).read_bytes()[:300])
    (src / "Jazz" / "notes.txt").write_text("not a cover")
    (src / "Pop").mkdir()
    Image.new("CMYK", (30, 30), (10, 200, 30, 0)).save(src / "Pop" / "cmyk.jpg")
    (src / "manifest.csv").write_text("ignored,at,root\n")
    ds = import_collection(src, tmp_path / "out", tax)
    rep = ds.report
    assert rep["albums_in"] == 8 == rep["albums_kept"] + rep["albums_reported"]
    assert rep["albums_kept"] == 4 and len(ds) == 4
    reasons = {Path(s["image"]).name: s["reason"] for s in rep["skipped"]}
    assert reasons == {"zero.jpg": "empty", "noise.jpg": "not-an-image",
                       "cut.jpg": "truncated", "notes.txt": "not-an-image"}  # fmt: skip
    labels = dict(zip(ds.album_ids, ds.label_sets, strict=True))
    assert labels["Indie/b"] == ["Indie Rock"]
    assert labels["Rock/Shoegaze/c"] == ["Rock"]
    assert rep["counts"]["per_genre"]["Rock"] == 3  # a, b (Indie Rock), c: closed under ancestors
    assert all(p.is_file() for p in ds.image_paths())


def test_unknown_genres_error_lists_them_or_drop_reports_them(tmp_path, tax):
    src = tmp_path / "src"
    cover(src / "Rock" / "a.jpg", 1)
    cover(src / "Polka" / "b.jpg", 2)
    cover(src / "Zydeco" / "c.jpg", 3)
    with pytest.raises(UnknownGenreError) as info:
        import_collection(src, tmp_path / "out", tax)
    assert set(info.value.names) == {"Polka", "Zydeco"}
    ds = import_collection(src, tmp_path / "out", tax, ImportOptions(unknown="drop"))
    assert len(ds) == 1 and ds.report["unknown_genres"] == {"Polka": 1, "Zydeco": 1}
    assert ds.report["skipped_by_reason"] == {"unknown-genre": 2}


def test_generic_csv_groups_ids_and_outside_root(tmp_path, tax):
    src = tmp_path / "col"
    cover(src / "img" / "a.jpg", 1)
    cover(src / "img" / "b.png", 2)
    cover(tmp_path / "secret.jpg", 3)
    (src / "covers.csv").write_text(
        "image,labels,group,album_id\n"
        "img/a.jpg,Rock|Bebop,artist1,A1\n"
        "img/b.png,synthpop,artist2,\n"
        "../secret.jpg,Jazz,artist3,S\n"
        "img/missing.jpg,Jazz,,M\n"
        "img/a.jpg,,artist1,E\n"
    )
    ds = import_collection(src / "covers.csv", tmp_path / "out", tax)
    assert ds.album_ids == ["A1", "img/b"]
    assert ds.label_sets == [["Rock", "Bebop"], ["Synthpop"]]
    assert ds.groups == ["artist1", "artist2"]
    reasons = {s["album_id"]: s["reason"] for s in ds.report["skipped"]}
    assert reasons == {"S": "outside-root", "M": "missing", "E": "no-labels"}
    assert ds.report["albums_in"] == 5
    opts = ImportOptions(allow_outside_root=True)
    assert "S" in import_collection(src / "covers.csv", tmp_path / "o2", tax, opts).album_ids


def test_mumu_csv_dedups_tracks_and_resolves_comma_fragments(tmp_path, tax):
    images = tmp_path / "images"
    for aid, seed in (("B01", 1), ("B02", 2)):
        cover(images / f"{aid}.jpg", seed)
    (tmp_path / "MuMu_dataset_multi-label.csv").write_text(
        "amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres\n"
        'B01,m1,t1,r1,art1,"Rock,Indie Rock"\n'
        'B01,m1,t2,r2,art1,"Rock,Indie Rock"\n'
        'B02,m2,t3,r3,art2,"Classical,Theatrical, Incidental & Program Music"\n'
        "B03,m3,t4,r4,art3,Jazz\n"
    )
    ds = import_collection(tmp_path / "MuMu_dataset_multi-label.csv", tmp_path / "out", tax)
    assert ds.report["format"] == "mumu-csv" and ds.report["rows_read"] == 4
    assert ds.album_ids == ["B01", "B02"]
    assert ds.label_sets[1] == ["Classical", "Theatrical, Incidental & Program Music"]
    assert ds.groups == ["art1", "art2"]
    assert ds.report["skipped"][0]["album_id"] == "B03"
    assert ds.report["skipped"][0]["reason"] == "missing"


def test_mumu_json_uses_category_paths(tmp_path, tax):
    cover(tmp_path / "images" / "X1.jpg", 1)
    cover(tmp_path / "images" / "X2.jpg", 2)
    records = [
        {"amazon_id": "X1", "categories": [["CDs & Vinyl", "Rock", "Indie Rock", "Shoegaze"]]},
        {"amazon_id": "X2", "categories": [["CDs & Vinyl", "Pop"], ["CDs & Vinyl", "Jazz"]]},
        {"amazon_id": "X3", "categories": []},
    ]
    (tmp_path / "meta.json").write_text(json.dumps(records))
    ds = import_collection(tmp_path / "meta.json", tmp_path / "out", tax)
    assert ds.label_sets == [["Rock", "Indie Rock", "Shoegaze"], ["Pop", "Jazz"]]
    assert ds.report["skipped"][0]["reason"] == "no-labels"


def _dup_collection(src: Path) -> None:
    cover(src / "Rock" / "a.jpg", 1)
    (src / "Jazz").mkdir(parents=True)
    (src / "Jazz" / "a_copy.jpg").write_bytes((src / "Rock" / "a.jpg").read_bytes())
    img = Image.open(src / "Rock" / "a.jpg").resize((64, 64))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=60)  # re-encoded and rescaled: near-identical, not identical
    (src / "Pop").mkdir()
    (src / "Pop" / "a_reissue.jpg").write_bytes(buf.getvalue())
    for i in range(4):
        cover(src / "Rock" / f"other{i}.jpg", 10 + i)


def test_duplicates_merge_unions_labels(tmp_path, tax):
    _dup_collection(tmp_path / "src")
    ds = import_collection(tmp_path / "src", tmp_path / "out", tax)
    groups = ds.report["duplicates"]["groups"]
    assert len(groups) == 1 and groups[0]["kind"] == "near" and groups[0]["labels_differ"]
    assert len(groups[0]["albums"]) == 3
    keeper = groups[0]["kept"][0]
    assert sorted(dict(zip(ds.album_ids, ds.label_sets, strict=True))[keeper]) == [
        "Jazz", "Pop", "Rock"]  # fmt: skip
    assert len(ds) == 5 and ds.report["skipped_by_reason"] == {"duplicate-merged": 2}


def test_duplicates_drop_and_keep(tmp_path, tax):
    _dup_collection(tmp_path / "src")
    dropped = import_collection(
        tmp_path / "src", tmp_path / "d", tax, ImportOptions(duplicates="drop")
    )
    assert len(dropped) == 4 and dropped.report["skipped_by_reason"] == {"duplicate-conflict": 3}
    kept = import_collection(
        tmp_path / "src", tmp_path / "k", tax, ImportOptions(duplicates="keep")
    )
    assert len(kept) == 7 and len(kept.duplicate_groups) == 1
    group = set(kept.duplicate_groups[0])
    for seed in range(5):  # whatever the seed, the three copies share one part
        split = make_split(kept, "multilabel", seed=seed, taxonomy=tax)
        parts = [p for p in ("train", "dev", "test") if group & set(split.part(p))]
        assert len(parts) == 1


def test_bad_format_and_missing_source(tmp_path, tax):
    with pytest.raises(DataError):
        import_collection(tmp_path / "nothing", tmp_path / "out", tax)
    (tmp_path / "odd.csv").write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match="`format`"):
        import_collection(tmp_path / "odd.csv", tmp_path / "out", tax)


@pytest.mark.slow
def test_discogs_covers_import(tmp_path, shared_data):
    discogs = shared_data / "discogs-covers"
    if not discogs.is_dir():
        pytest.skip(f"{discogs} is not here")
    tax = load_taxonomy()  # a broken shipped table must fail here, not skip
    ds = import_collection(discogs, tmp_path / "discogs", tax)
    rep = ds.report
    assert rep["albums_in"] == 4452 == rep["albums_kept"] + rep["albums_reported"]
    level1 = {n for labels in ds.label_sets for n in tax.close(labels) if tax.level(n) == 1}
    assert level1 == {"Country", "Dance & Electronic", "Pop", "Rap & Hip-Hop", "Rock"}
    assert rep["duplicates"]["groups"]  # re-releases of one cover exist even after cleaning
    # The set's own manifest.csv imports directly by naming its columns: the same albums.
    columns = CsvColumns(image="path", labels="genre", album_id="discogs_release_id")
    by_csv = import_collection(
        discogs / "manifest.csv", tmp_path / "csv", tax, ImportOptions(columns=columns)
    )
    assert by_csv.report["albums_in"] == 4452
    assert by_csv.report["albums_kept"] == rep["albums_kept"]
    # The manifest lists one release under two genres with two files: a duplicate id there, a
    # near-duplicate pair in the folders; every other duplicate group is found both ways.
    dup_ids = by_csv.report["skipped_by_reason"].get("duplicate-id", 0)
    assert by_csv.report["duplicates"]["near_groups"] + dup_ids == rep["duplicates"]["near_groups"]


def _nothing_left(src, tmp_path, tax, options=ImportOptions()) -> str:
    with pytest.raises(DataError) as info:
        import_collection(src, tmp_path / "out", tax, options)
    message = str(info.value)
    assert "\n" not in message and not (tmp_path / "out" / "manifest.csv").exists()
    return message


def test_nothing_left_to_import_says_why_every_row_was_rejected(tmp_path, tax):
    """Each way of ending with no album is one line counting the rejections by reason."""
    src = tmp_path / "col"
    rows = [f"{cover(tmp_path / 'elsewhere' / f'{i}.jpg', i)},Rock\n" for i in range(3)]
    (src).mkdir()
    (src / "covers.csv").write_text("image,labels\n" + "".join(rows) + "img/gone.jpg,Jazz\n")
    message = _nothing_left(src / "covers.csv", tmp_path, tax)
    assert "all 4 albums" in message and "outside-root 3" in message and "missing 1" in message
    assert "`allow_outside_root`" in message

    flat = tmp_path / "flat"  # covers, but no genre folders
    cover(flat / "a.jpg", 1)
    cover(flat / "b.jpg", 2)
    message = _nothing_left(flat, tmp_path, tax)
    assert "no albums" in message and "<genre>" in message

    (tmp_path / "empty").mkdir()
    assert "no albums" in _nothing_left(tmp_path / "empty", tmp_path, tax)

    polka = tmp_path / "polka"
    cover(polka / "Polka" / "a.jpg", 1)
    cover(polka / "Zydeco" / "b.jpg", 2)
    message = _nothing_left(polka, tmp_path, tax, ImportOptions(unknown="drop"))
    assert "all 2 albums" in message and "unknown-genre 2" in message


def test_named_csv_columns_that_are_missing_are_named(tmp_path, tax):
    src = tmp_path / "col"
    cover(src / "a.jpg", 1)
    (src / "covers.csv").write_text("path,genre\na.jpg,Rock\n")
    columns = CsvColumns(image="path", labels="genres")
    with pytest.raises(DataError) as info:
        import_collection(src / "covers.csv", tmp_path / "out", tax, ImportOptions(columns=columns))
    message = str(info.value)
    assert "genres" in message and "`label_col`" in message and "path, genre" in message
    assert "cannot tell the format" not in message
    ok = ImportOptions(columns=CsvColumns(image="path", labels="genre"))
    assert import_collection(src / "covers.csv", tmp_path / "out", tax, ok).album_ids == ["a"]


def test_discogs_csv_with_two_label_columns_groups_and_odd_names(tmp_path):
    """A Discogs export as it comes: genres + styles columns, squeezed names, unicode titles."""
    tax = load_taxonomy()
    src = tmp_path / "src"
    titles = ['Motörhead #1 "Live"', "Don't Stop_1979", "Électro, vol. 2", "日本 ロック"]
    rows = [("rock", "hardrock|heavymetal", "b0"), ("rock|pop", "poprock|ballad", "b0"),
            ("electronic|hiphop", "electro|experimental", "b1"),
            ("rock", "acoustic", "b1")]  # fmt: skip
    lines = ["path,genres,styles,year,group"]
    for i, (title, (genres, styles, group)) in enumerate(zip(titles, rows, strict=True)):
        cover(src / "img" / f"{title}.jpg", 10 + i)
        quoted = '"' + f"img/{title}.jpg".replace('"', '""') + '"'
        lines.append(f"{quoted},{genres},{styles},2000,{group}")
    (src / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    columns = CsvColumns(image="path", labels=("genres", "styles"))
    opts = ImportOptions(columns=columns)
    ds = import_collection(src / "manifest.csv", tmp_path / "out", tax, opts)
    assert ds.report["albums_kept"] == 4 and ds.report["names"] == "discogs"
    paths = [Path(p).name for p in ds.image_paths()]
    by_title = dict(zip(paths, ds.label_sets, strict=True))
    assert by_title[f"{titles[0]}.jpg"] == ["Rock", "Hard Rock", "Metal"]
    assert by_title[f"{titles[1]}.jpg"] == ["Rock", "Pop", "Ballads"]
    assert by_title[f"{titles[2]}.jpg"] == ["Dance & Electronic", "Rap & Hip-Hop", "Electronic",
                                            "Electronica"]  # fmt: skip
    assert by_title[f"{titles[3]}.jpg"] == ["Rock"]
    assert ds.report["names_not_mapped"] == {"acoustic": 1}
    assert ds.groups == ["b0", "b0", "b1", "b1"]
    assert all(p.is_file() for p in ds.image_paths())
    # one column, and the taxonomy's own vocabulary: `electronic` is then MuMu's level-2 node
    one = CsvColumns(image="path", labels="genres")
    opts = ImportOptions(columns=one, names="taxonomy")
    plain = import_collection(src / "manifest.csv", tmp_path / "plain", tax, opts)
    assert plain.label_sets[2] == ["Electronic", "Rap & Hip-Hop"]
    with pytest.raises(DataError, match="style"):
        bad = CsvColumns(image="path", labels=("genres", "style"))
        import_collection(src / "manifest.csv", tmp_path / "bad", tax, ImportOptions(columns=bad))
