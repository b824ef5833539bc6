"""Discogs genres and styles onto the shipped taxonomy: the table, both spellings, context."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from hiergenre.data.labels import resolve_label_sets
from hiergenre.taxonomy import load_taxonomy
from hiergenre.taxonomy.discogs import DiscogsNames, DiscogsRow, discogs_key, read_discogs_table

DOCS = Path(__file__).resolve().parents[1] / "docs" / "TAXONOMY.md"
GENRES = {  # the 15 Discogs genres, as Discogs writes them, onto a level-1 node each
    "Blues": "Blues", "Brass & Military": "Classical", "Children's": "Children's Music",
    "Classical": "Classical", "Electronic": "Dance & Electronic",
    "Folk, World, & Country": "Folk", "Funk / Soul": "R&B", "Hip Hop": "Rap & Hip-Hop",
    "Jazz": "Jazz", "Latin": "Latin Music", "Non-Music": "Comedy & Spoken Word", "Pop": "Pop",
    "Reggae": "Reggae", "Rock": "Rock", "Stage & Screen": "Soundtracks",
}  # fmt: skip


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


@pytest.fixture(scope="module")
def discogs(tax):
    return DiscogsNames(tax)


def test_table_is_consistent(tax):
    rows = read_discogs_table()
    assert len({discogs_key(r.name) for r in rows}) > 450  # every Discogs genre and style
    for row in rows:
        assert not row.genre or row.genre in tax.names, row
        assert not row.within or tax.level(row.within) == 1, row
    pairs = Counter((discogs_key(r.name), r.within) for r in rows)
    assert [p for p, n in pairs.items() if n > 1] == []  # one row per name and context
    keyed: dict[str, list[DiscogsRow]] = {}
    for row in rows:
        keyed.setdefault(discogs_key(row.name), []).append(row)
    for key, group in keyed.items():  # a name with context rows still has its default row
        assert sum(not r.within for r in group) == 1, key


def test_every_unmapped_name_is_documented():
    text = DOCS.read_text("utf-8")
    unmapped = {r.name for r in read_discogs_table() if not r.genre}
    assert unmapped  # the table does leave some names out on purpose
    assert [n for n in sorted(unmapped) if f"`{n}`" not in text] == []


@pytest.mark.parametrize(("name", "level1"), sorted(GENRES.items()))
def test_genres_land_on_level1_both_spellings(tax, discogs, name, level1):
    squeezed = "".join(ch for ch in name.lower() if ch.isalnum())  # `funksoul`, `folkworldcountry`
    for spelling in (name, squeezed):
        nodes, unknown, ignored = discogs.resolve_album([spelling])
        assert unknown == [] and ignored == []
        assert len(nodes) == 1 and tax.path(nodes[0])[0] == level1, spelling
    assert tax.level(discogs.resolve_album(["electronic"])[0][0]) == 1  # not the level-2 node


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Rock", "Hard Rock"], ["Rock", "Hard Rock"]),
        (["rock", "hardrock"], ["Rock", "Hard Rock"]),
        (["hiphop", "rnbswing"], ["Rap & Hip-Hop", "Contemporary R&B"]),
        (["Hip Hop", "RnB/Swing"], ["Rap & Hip-Hop", "Contemporary R&B"]),
        (["rock", "poprock"], ["Rock"]),  # ambiguous: the parent, documented
        (["rock", "Rock & Roll"], ["Rock", "Oldies & Retro"]),
        (["rock", "rock and roll"], ["Rock", "Oldies & Retro"]),
        (["rock", "numetal"], ["Rock", "Alternative Metal"]),
        (["hiphop", "gangsta"], ["Rap & Hip-Hop", "Gangsta & Hardcore"]),
        (
            ["electronic", "downtempo", "electro"],
            ["Dance & Electronic", "Electronica", "Electronic"],
        ),
        # a style Discogs files under several genres follows the release's genre
        (["electronic", "experimental"], ["Dance & Electronic", "Electronica"]),
        (["rock", "experimental"], ["Rock", "Alternative Rock"]),
        (["hiphop", "experimental"], ["Rap & Hip-Hop", "Experimental Rap"]),
        (["experimental", "hiphop"], ["Rap & Hip-Hop", "Experimental Rap"]),  # order-free
        (["hiphop", "electro"], ["Rap & Hip-Hop"]),
        (["electronic", "hardcore"], ["Dance & Electronic", "Rave"]),
        (["rock", "hardcore"], ["Rock", "Hardcore"]),
        (["pop", "ballad"], ["Pop", "Ballads"]),
        (["rock", "ballad"], ["Rock", "Soft Rock"]),
        (["jazz", "vocal"], ["Jazz", "Vocal Jazz"]),
        (["pop", "vocal"], ["Pop", "Vocal Pop"]),
    ],
)
def test_styles_resolve(discogs, names, expected):
    nodes, unknown, ignored = discogs.resolve_album(names)
    assert (nodes, unknown, ignored) == (expected, [], [])


def test_unmapped_and_unknown_are_told_apart(discogs):
    assert discogs.resolve_album(["rock", "acoustic", "Zorblax"]) == (["Rock"], ["Zorblax"],
                                                                      ["acoustic"])  # fmt: skip
    assert discogs.resolve_album(["blues", "acoustic"]) == (["Blues", "Acoustic Blues"], [], [])
    # names the table does not list fall back to the taxonomy's own names and aliases
    assert discogs.resolve_album(["Shoegazing", "Britpop"]) == (["Shoegazing", "Britpop"], [], [])


def test_vocabulary_decides_what_electronic_means(tax):
    by_taxonomy, _, _ = resolve_label_sets([["Electronic"]], tax, "taxonomy")
    by_discogs, _, _ = resolve_label_sets([["Electronic"]], tax, "discogs")
    assert by_taxonomy == [["Electronic"]]  # MuMu's level-2 node keeps its name in a manifest
    assert by_discogs == [["Dance & Electronic"]]


def test_every_cover2genres_name_is_in_the_table(tax, discogs, shared_data):
    manifest = shared_data / "cover2genres" / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{manifest} is not here")
    names: Counter = Counter()
    with open(manifest, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            names.update(n for n in f"{row['genres']}|{row['styles']}".split("|") if n)
    assert len(names) > 200
    assert [n for n in sorted(names) if not discogs.rows(n)] == []
    for big in ("poprock", "rnbswing", "electro", "downtempo", "gangsta", "numetal", "ballad",
                "experimental", "rockroll", "artrock"):  # fmt: skip
        assert any(r.genre for r in discogs.rows(big)), big
