"""MuMu's files parsed once: metadata records in three layouts, the multi-label CSV."""

from __future__ import annotations

import pytest

from hiergenre.errors import DataError
from hiergenre.taxonomy import mumu


def test_records_ids_and_genres(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text(
        "{'asin': 'A1', 'categories': [['CDs & Vinyl', 'Rock'], ['CDs & Vinyl', 'Rock', 'Punk']]}\n"
        '{"amazon_id": "A2", "categories": [["Books"]]}\n'
    )
    recs = list(mumu.iter_metadata_records(path))
    assert [mumu.record_id(r) for r in recs] == ["A1", "A2"]
    assert mumu.record_genres(recs[0]) == ["Rock", "Punk"]  # the root dropped, no repeats
    assert mumu.record_genres(recs[1]) == ["Books"]
    path.write_text("amazon_id,genres\nA1,Rock\n")
    with pytest.raises(DataError, match="line 1"):
        list(mumu.iter_metadata_records(path))


def test_label_csv_groups_tracks_and_reports_bad_rows(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text(
        "amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres\n"
        'A1,mb1,t1,r1,ar1,"Pop,Rock"\n'
        'A1,mb1,t2,r2,ar1,"Rock, Punk"\n'
        ",mb2,t3,r3,ar2,Jazz\n"
        "A3,mb3,t4,r4,ar3,\n"
    )
    albums, rows, bad = mumu.read_label_csv(path)
    assert rows == 4 and bad == [4, 5]
    a1 = albums["A1"]
    assert a1.genres == ["Pop", "Rock", "Punk"] and a1.disagree
    assert a1.album_mbid == "mb1" and a1.artist_mbid == "ar1" and " Punk" in a1.raw_genres
    path.write_text("id,genre\n1,Pop\n")
    with pytest.raises(DataError, match="missing column"):
        mumu.read_label_csv(path)
