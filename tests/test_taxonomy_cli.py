"""`hiergenre explain-taxonomy` and `hiergenre taxonomy build|stats|export` through the real CLI."""

from __future__ import annotations

import json

import pytest

from hiergenre.cli.main import main
from hiergenre.taxonomy import load_taxonomy

TINY = "genre\tparent\nRock\tMusic\nJazz\tMusic\nIndie Rock\tRock\nMath Rock\tIndie Rock\n"


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "tiny.tsv"
    path.write_text(TINY)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_rock(capsys):
    code, out, err = run(capsys, "explain-taxonomy", "Rock")
    assert code == 0, err
    assert "Music > Rock" in out and "level 1" in out
    assert "a per-branch head over its" in out
    rock = load_taxonomy()
    for child in rock.children("Rock"):
        assert child in out
    assert "siblings" in out and "Alternative Rock" in out


def test_explain_resolves_aliases(capsys):
    code, out, _ = run(capsys, "explain-taxonomy", "indie lo-fi")
    assert code == 0
    assert "Indie & Lo-Fi" in out and "Music > Alternative Rock > Indie & Lo-Fi" in out
    code, out, _ = run(capsys, "explain-taxonomy", "hip hop", "--depth", "0")
    assert code == 0 and "Rap & Hip-Hop" in out and "hidden by --depth 0" in out


def test_explain_misspelling_suggests_and_exits_2(capsys):
    code, out, err = run(capsys, "explain-taxonomy", "Rokc")
    assert code == 2
    assert "did you mean" in err and "'Rock'" in err
    assert "Traceback" not in out + err


def test_explain_json_parses(capsys):
    code, out, _ = run(capsys, "explain-taxonomy", "Rock", "--json", "--depth", "1")
    assert code == 0
    data = json.loads(out)
    assert data["name"] == "Rock" and data["path"] == ["Music", "Rock"] and data["level"] == 1
    assert [c["name"] for c in data["tree"]["children"]] == data["children"]
    assert all(c["children"] == [] for c in data["tree"]["children"])


def test_explain_on_a_given_taxonomy(capsys, tiny):
    code, out, _ = run(capsys, "explain-taxonomy", "math-rock", "--taxonomy", str(tiny), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["path"] == ["Music", "Rock", "Indie Rock", "Math Rock"] and data["is_leaf"]
    code, out, _ = run(capsys, "explain-taxonomy", "Rock", "--taxonomy", str(tiny))
    assert code == 0 and "Math Rock" in out and "Jazz" in out
    code, _, err = run(capsys, "explain-taxonomy", "Pop", "--taxonomy", str(tiny))
    assert code == 2 and "unknown genre" in err


def test_explain_with_data(capsys, tiny, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "manifest.csv").write_text(
        "album_id,image,labels,group,source\na,a.jpg,Math Rock,x,t\nb,b.jpg,Jazz|Rock,y,t\n"
    )
    code, out, _ = run(
        capsys, "explain-taxonomy", "Rock", "--taxonomy", str(tiny), "--data", str(ds)
    )
    assert code == 0 and "2 albums" in out and "1 album" in out
    code, out, _ = run(capsys, "explain-taxonomy", "Rock", "--taxonomy", str(tiny),
                       "--data", str(ds), "--json")  # fmt: skip
    assert json.loads(out)["data"]["per_node"] == {"Rock": 2, "Jazz": 1, "Indie Rock": 1,
                                                   "Math Rock": 1}  # fmt: skip
    code, _, err = run(capsys, "explain-taxonomy", "Rock", "--data", str(tmp_path / "nope"))
    assert code == 2 and "manifest.csv" in err


def test_malformed_taxonomy_file_exits_2_with_line(capsys, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("genre\tparent\nRock\tMusic\nRock\tJazz\nJazz\tMusic\n")
    code, out, err = run(capsys, "explain-taxonomy", "Rock", "--taxonomy", str(bad))
    assert code == 2 and "line 3" in err and "two parents" in err
    assert "Traceback" not in out + err


def test_stats(capsys, tiny):
    code, out, _ = run(capsys, "taxonomy", "stats", "--taxonomy", str(tiny), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["num_nodes"] == 4 and data["depth"] == 3
    assert [lv["nodes"] for lv in data["levels"]] == [1, 2, 1, 1]
    assert data["largest"][0]["name"] == "Rock"
    code, out, _ = run(capsys, "taxonomy", "stats")
    assert code == 0 and "445" in out and "Largest branches" in out


@pytest.mark.parametrize("fmt", ["json", "graphml", "tsv"])
def test_export_round_trip(capsys, tiny, tmp_path, fmt):
    out_path = tmp_path / f"out.{fmt}"
    code, _, err = run(capsys, "taxonomy", "export", "--format", fmt, "--out", str(out_path),
                       "--taxonomy", str(tiny))  # fmt: skip
    assert code == 0, err
    assert load_taxonomy(out_path).digest == load_taxonomy(tiny).digest


def test_export_rejects_unknown_format(capsys, tmp_path):
    code, _, _ = run(capsys, "taxonomy", "export", "--format", "yaml", "--out", str(tmp_path / "x"))
    assert code == 2


def test_build_from_metadata_and_labels(capsys, tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps([
        {"categories": [["CDs & Vinyl", "Rock", "Hard Rock"]]},
        {"categories": [["CDs & Vinyl", "Jazz", "Bebop", "Hard Bop", "West Coast", "Too Deep"]]},
    ]))  # fmt: skip
    out = tmp_path / "genres.tsv"
    code, text, err = run(
        capsys, "taxonomy", "build", "--from-metadata", str(meta), "--out", str(out)
    )
    assert code == 0, err
    assert "cut to 4: 1" in text and load_taxonomy(out).num_nodes == 6
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres\n"
        'A1,m,t1,r1,a,"Rock,Hard Rock"\nA1,m,t2,r2,a,"Rock,Hard Rock"\nA2,m,t3,r3,a,Rock\n'
    )
    code, text, err = run(capsys, "taxonomy", "build", "--from-labels", str(labels),
                          "--out", str(out), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(text)["albums"] == 2
    assert load_taxonomy(out).parents_dict() == {"Rock": "Music", "Hard Rock": "Rock"}
    code, _, err = run(capsys, "taxonomy", "build", "--out", str(out))
    assert code == 2 and "exactly one" in err


def test_explain_counts_in_the_singular(capsys, tiny):
    """Indie Rock has one genre below it (Math Rock, a leaf); Rock has two, one of them a leaf."""
    code, out, _ = run(capsys, "explain-taxonomy", "Indie Rock", "--taxonomy", str(tiny))
    assert code == 0 and "below     1 genre, 1 leaf\n" in out
    assert "(1 child, 1 leaf)" in out
    code, out, _ = run(capsys, "explain-taxonomy", "Rock", "--taxonomy", str(tiny))
    assert code == 0 and "below     2 genres, 1 leaf\n" in out
