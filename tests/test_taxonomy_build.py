"""Deriving genre tables from small Amazon-metadata and MuMu-label files written here."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from hiergenre.errors import DataError
from hiergenre.taxonomy import load_taxonomy
from hiergenre.taxonomy.build import build_table, table_from_labels, table_from_metadata

CD = "CDs & Vinyl"
RECORDS = [
    {"amazon_id": "B1", "title": "a", "categories": [[CD, "Latin Music", "Latin Pop"]]},
    {"amazon_id": "B2", "categories": [[CD, "Latin Music", "Latin Pop"], [CD, "Pop", "Latin Pop"]]},
    {"amazon_id": "B3", "categories": [[CD, "Pop", "Dance Pop"], [CD, "Pop"]]},
    {
        "amazon_id": "B4",
        "categories": [[CD, "Rock", "Progressive", "Progressive Rock", "Art Rock", "Canterbury"]],
    },  # fmt: skip
    {"amazon_id": "B5", "categories": [["Books", "Music"], [CD]]},
    {"amazon_id": "B6", "title": "no categories at all"},
]
EXPECTED_META = {
    "Latin Music": "Music", "Latin Pop": "Latin Music", "Pop": "Music", "Dance Pop": "Pop",
    "Rock": "Music", "Progressive": "Rock", "Progressive Rock": "Progressive",
    "Art Rock": "Progressive Rock",
}  # fmt: skip


def _check_metadata_result(result):
    assert result.root == "Music"
    assert result.parents == EXPECTED_META
    report = result.report
    assert report["records"] == 6 and report["paths"] == 6
    assert report["truncated"] == 1
    assert report["truncated_examples"] == [
        "Rock > Progressive > Progressive Rock > Art Rock > Canterbury"
    ]
    assert report["conflicts"] == [
        {"genre": "Latin Pop", "chosen": "Latin Music", "votes": {"Latin Music": 2, "Pop": 1}}
    ]
    assert report["skipped"] == {
        "path outside 'CDs & Vinyl'": 1,
        "path with no genre below 'CDs & Vinyl'": 1,
        "record without categories": 1,
    }
    assert report["reattached"] == []
    assert result.levels()["Art Rock"] == 4


def test_metadata_json_array(tmp_path):
    path = tmp_path / "amazon_metadata_MuMu.json"
    path.write_text(json.dumps(RECORDS, indent=1))
    _check_metadata_result(table_from_metadata(path))


def test_metadata_json_lines_python_dicts_and_gzip(tmp_path):
    lines = tmp_path / "meta.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    _check_metadata_result(table_from_metadata(lines))
    python = tmp_path / "meta.py.txt"  # the original Amazon dump: one Python dict per line
    python.write_text("\n".join(repr(r) for r in RECORDS) + "\n\n")
    assert "'amazon_id'" in python.read_text()
    _check_metadata_result(table_from_metadata(python))
    packed = tmp_path / "meta.json.gz"
    packed.write_bytes(gzip.compress(python.read_bytes()))
    _check_metadata_result(table_from_metadata(packed))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("amazon_id,categories\nB1,Pop\n", "line 1: not a JSON object or Python dict"),
        ('{"categories": [["CDs & Vinyl", "Pop"]]}\n[1, 2]\n', "line 2: not a JSON object"),
        ("[1, 2]", "item 0 of the JSON array is not an object"),
        ("[{]", "broken JSON array"),
        ("", "is empty"),
        ('{"categories": "Pop"}', "must be a list of paths"),
        ('{"categories": [["Books", "Pop"]]}', "no usable 'CDs & Vinyl' category paths"),
    ],
)
def test_metadata_refusals(tmp_path, text, match):
    path = tmp_path / "meta.json"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        table_from_metadata(path)


def test_metadata_cycle_from_tied_votes_is_broken(tmp_path):
    # A under B and B under A each win their tie by name; A moves to its other parent Z.
    recs = [{"categories": [[CD, "Z", "A", "B"]]}] * 2 + [{"categories": [[CD, "Y", "B", "A"]]}] * 2
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(recs))
    result = table_from_metadata(path)
    assert result.report["reattached"] == [{"genre": "A", "was": "B", "now": "Z", "why": "cycle"}]
    assert result.parents == {"A": "Z", "B": "A", "Y": "Music", "Z": "Music"}


# One row per track; genres joined by ',' with no space. Six albums, ten tracks.
TRACKS = [
    ("A1", "Pop,Rock,Alternative Rock,Indie Rock"),
    ("A1", "Pop,Rock,Alternative Rock,Indie Rock"),
    ("A2", "Pop,Rock,Alternative Rock"),
    ("A2", "Pop,Rock,Alternative Rock"),
    ("A3", "Rock,Hard Rock"),
    ("A4", "Pop,Dance Pop"),
    ("A4", "Pop,Dance Pop"),
    ("A5", "Jazz,Swing,Bebop"),
    ("A6", "Jazz,Swing,Rock,Alternative Rock,Indie Rock"),
    ("A6", "Jazz,Swing,Rock,Alternative Rock,Indie Rock"),
]
COLUMNS = ["amazon_id", "album_mbid", "MSD_track_id", "recording_mbid", "artist_mbid", "genres"]


def _write_labels(path, tracks):
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for i, (album, genres) in enumerate(tracks):
            writer.writerow([album, f"mb-{album}", f"TR{i:04d}", f"rec-{i}", "artist", genres])
    return path


def test_labels_hand_computed_parents(tmp_path):
    path = _write_labels(tmp_path / "MuMu_dataset_multi-label.csv", TRACKS)
    assert '"Pop,Rock,Alternative Rock,Indie Rock"' in path.read_text()  # one quoted field
    result = table_from_labels(path)
    # albums: Rock 4, Pop 3, Alternative Rock 3, Indie Rock 2, Jazz 2, Swing 2, rest 1
    assert result.parents == {
        "Alternative Rock": "Rock",  # on A1, A2, A6: only Rock (4 > 3) is on all three
        "Bebop": "Jazz",  # Jazz and Swing (2 albums each) tie: by name
        "Dance Pop": "Pop",
        "Hard Rock": "Rock",
        "Indie Rock": "Alternative Rock",  # Rock (4) and Alternative Rock (3): the smaller
        "Jazz": "Music",  # Swing is on every Jazz album but is not bigger
        "Pop": "Music",  # Rock is missing from A4
        "Rock": "Music",
        "Swing": "Music",
    }
    report = result.report
    assert report["rows"] == 10 and report["albums"] == 6 and report["nodes"] == 9
    assert report["albums_per_genre"]["Rock"] == 4 and report["albums_per_genre"]["Bebop"] == 1
    assert report["reattached"] == [] and report["stripped_fragments"] == []


def test_labels_depth_is_capped_at_four(tmp_path):
    chain = ["G1", "G2", "G3", "G4", "G5", "G6"]  # G1 on 6 albums, G2 on 5, ... G6 on 1
    tracks = [(f"A{a}", ",".join(chain[: a + 1])) for a in range(6)]
    result = table_from_labels(_write_labels(tmp_path / "chain.csv", tracks))
    assert result.parents["G4"] == "G3"
    assert result.parents["G5"] == "G3" and result.parents["G6"] == "G3"
    assert max(result.levels().values()) == 4
    assert [r["genre"] for r in result.report["reattached"]] == ["G5", "G6"]


def test_labels_fragments_and_disagreeing_tracks(tmp_path):
    tracks = [("A1", "Classical,Theatrical, Incidental & Program Music"), ("A1", "Classical")]
    result = table_from_labels(_write_labels(tmp_path / "frag.csv", tracks))
    assert result.report["stripped_fragments"] == [" Incidental & Program Music"]
    assert result.report["albums whose tracks disagree (labels united)"] == 1
    assert "Incidental & Program Music" in result.parents


def test_labels_refusals(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("amazon_id,genre\nA1,Pop\n")
    with pytest.raises(DataError, match="line 1: missing column"):
        table_from_labels(bad)
    with pytest.raises(DataError, match="does not exist"):
        table_from_labels(tmp_path / "none.csv")
    bad.write_text("amazon_id,genres\n,\n")
    with pytest.raises(DataError, match="no rows"):
        table_from_labels(bad)


@pytest.mark.parametrize("source", ["metadata", "labels"])
def test_build_table_writes_a_loadable_tsv(tmp_path, source):
    if source == "metadata":
        src = tmp_path / "meta.json"
        src.write_text(json.dumps(RECORDS))
    else:
        src = _write_labels(tmp_path / "labels.csv", TRACKS)
    out = tmp_path / "genres.tsv"
    result, taxonomy = build_table(**{source: src}, out=out)
    loaded = load_taxonomy(out)
    assert loaded.digest == taxonomy.digest and loaded.parents_dict() == result.parents
    assert out.read_text().startswith("genre\tparent\n")


def test_build_table_needs_exactly_one_source(tmp_path):
    with pytest.raises(DataError, match="exactly one"):
        build_table(out=tmp_path / "x.tsv")
    src = _write_labels(tmp_path / "labels.csv", TRACKS)
    with pytest.raises(DataError, match="output folder .*missing does not exist"):
        build_table(labels=src, out=tmp_path / "missing" / "x.tsv")
