"""The shipped MuMu taxonomy: shape, the poster's genres, label spaces, and (with ../shared) every
one of MuMu's 446 label strings resolving to a node."""

from __future__ import annotations

import csv

import pytest

from hiergenre.taxonomy import KOENIG12, get_label_space, load_taxonomy
from hiergenre.taxonomy.table import read_aliases


@pytest.fixture(scope="module")
def mumu():
    return load_taxonomy()


def _genre_counts(shared_data) -> dict[str, int]:
    path = shared_data / "mumu" / "genre_counts.tsv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["label", "albums"]
    return {label: int(n) for label, n in rows[1:]}  # labels kept verbatim (leading spaces too)


def test_shape(mumu):
    assert mumu.root == "Music"
    assert mumu.num_nodes == 445
    assert mumu.depth <= 4 and set(mumu.levels.tolist()) <= {1, 2, 3, 4}
    assert len(mumu.branches) == mumu.num_nodes - len(mumu.leaves) + 1


def test_poster_genres_are_level_one(mumu):
    assert len(KOENIG12) == 12
    for genre in KOENIG12:
        assert mumu.level(genre) == 1, genre
    space = get_label_space("koenig12", mumu)
    assert set(space.nodes) == set(KOENIG12)


def test_label_spaces(mumu):
    assert get_label_space("oramas250", mumu).size == 250
    assert get_label_space("all", mumu).size == 445
    assert get_label_space("level1", mumu).size == int((mumu.levels == 1).sum())


@pytest.mark.parametrize(
    ("genre", "ancestor"),
    [("Indie & Lo-Fi", "Alternative Rock"), ("Dance Pop", "Pop"), ("Tangos", "Latin Music"),
     ("Nocturnes", "Classical"), ("Polynesian Music", "World Music")],
)  # fmt: skip
def test_genres_placed_by_what_they_are(mumu, genre, ancestor):
    assert ancestor in mumu.ancestors(genre)


def test_shipped_aliases_resolve_to_their_targets(mumu):
    aliases = read_aliases()
    assert aliases, "aliases.tsv is empty"
    for alias, target in aliases.items():
        assert mumu.resolve(alias) == target, alias
    assert mumu._resolver.shadowed == {}  # no alias hidden behind a genre of the same spelling


@pytest.mark.parametrize(
    ("query", "node"),
    [("indie lo-fi", "Indie & Lo-Fi"), ("hip hop", "Rap & Hip-Hop"), ("HipHop", "Rap & Hip-Hop"),
     ("R and B", "R&B"), ("Theatrical", "Theatrical, Incidental & Program Music"),
     (" Incidental & Program Music", "Theatrical, Incidental & Program Music"),
     (" Elegies & Tombeau", "Elegies & Tombeau")],
)  # fmt: skip
def test_real_world_spellings(mumu, query, node):
    assert mumu.resolve(query) == node


def test_misspelling_suggests_the_right_genre(mumu):
    assert mumu.suggest("Rokc")[0] == "Rock"
    assert mumu.suggest("Clasical")[0] == "Classical"
    assert mumu.suggest("raggae")[0] == "Reggae"


def test_every_mumu_label_resolves(mumu, shared_data):
    counts = _genre_counts(shared_data)
    assert len(counts) == 446
    unresolved = [label for label in counts if mumu.try_resolve(label) is None]
    assert unresolved == []
    nodes = {mumu.resolve(label) for label in counts}
    assert nodes == set(mumu.names)  # the 446 strings cover all 445 nodes (fragments merged)


def test_oramas_vocabulary_matches_reference(mumu, shared_data):
    path = shared_data / "mumu" / "oramas_250_labels.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    reference = {ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()}
    assert len(reference) == 250
    assert set(get_label_space("oramas250", mumu).nodes) == {mumu.resolve(x) for x in reference}


def _albums_per_node(mumu, counts: dict[str, int]) -> dict[str, int]:
    """MuMu albums per node; fragments of one name (`Theatrical`, ...) count the same albums."""
    out: dict[str, int] = {}
    for label, n in counts.items():
        node = mumu.resolve(label)
        out[node] = max(out.get(node, 0), n)
    return out


def test_no_child_has_more_mumu_albums_than_its_parent(mumu, shared_data):
    albums = _albums_per_node(mumu, _genre_counts(shared_data))
    bigger = [(n, albums.get(n, 0), mumu.parent(n), albums.get(mumu.parent(n), 0))
              for n in mumu.names if mumu.parent(n) != mumu.root
              and albums.get(n, 0) > albums.get(mumu.parent(n), 0)]  # fmt: skip
    assert bigger == []


@pytest.mark.parametrize(
    ("genre", "parent"),
    [("Vocal Jazz", "Jazz"), ("Latin Jazz", "Jazz"), ("Brazilian Jazz", "Latin Jazz"),
     ("Oldies & Retro", "Rock"), ("Retro Swing", "Oldies & Retro"), ("Blues Rock", "Rock"),
     ("Southern Rock", "Rock"), ("Psychedelic Rock", "Rock"), ("Folk Rock", "Folk"),
     ("Country Rock", "Country"), ("Disco", "Dance & Electronic")],
)  # fmt: skip
def test_parents_chosen_in_docs_taxonomy(mumu, genre, parent):
    assert mumu.parent(genre) == parent  # docs/TAXONOMY.md says why


def test_vocal_jazz_no_longer_overfills_broadway(mumu, shared_data):
    albums = _albums_per_node(mumu, _genre_counts(shared_data))
    kids = sum(albums.get(k, 0) for k in mumu.children("Broadway & Vocalists"))
    assert kids <= 1.1 * albums["Broadway & Vocalists"]  # 1.56x with Vocal Jazz under it
