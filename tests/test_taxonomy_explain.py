"""explain_genre, taxonomy_stats and count_albums on a hand-built tree."""

from __future__ import annotations

import json

import pytest

from hiergenre.data.report import count_albums
from hiergenre.errors import ConfigError, DataError, UnknownGenreError
from hiergenre.taxonomy import Taxonomy
from hiergenre.taxonomy.explain import explain_genre, taxonomy_stats

PARENTS = {"Rock": "Music", "Jazz": "Music", "Pop": "Music", "Alternative Rock": "Rock",
           "Hard Rock": "Rock", "Indie Rock": "Alternative Rock", "Grunge": "Alternative Rock",
           "Math Rock": "Indie Rock", "Bebop": "Jazz", "Cool Jazz": "Jazz",
           "Free Jazz": "Jazz"}  # fmt: skip


@pytest.fixture()
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS, aliases={"Alt Rock": "Alternative Rock"})


@pytest.fixture()
def dataset(tmp_path):
    rows = ["album_id,image,labels,group,source", "a1,a1.jpg,Math Rock|Pop,g1,test",
            "a2,a2.jpg,grunge,g2,test", "a3,a3.jpg,Bebop|bebop,g3,test",
            "a4,a4.jpg,,g4,test"]  # fmt: skip
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_explain_internal_node(tax):
    ex = explain_genre(tax, "alt rock", depth=1)
    assert ex.name == "Alternative Rock" and ex.query == "alt rock"
    assert ex.path == ("Music", "Rock", "Alternative Rock")
    assert ex.level == 2 and ex.max_level == 4 and ex.parent == "Rock"
    assert ex.children == ("Grunge", "Indie Rock") and ex.siblings == ("Hard Rock",)
    assert ex.num_descendants == 3 and ex.num_leaves == 2 and not ex.is_leaf
    assert ex.head == "a per-branch head over its 2 children: Grunge, Indie Rock"
    assert ex.head_size == 2
    grunge, indie = ex.tree.children
    assert (grunge.name, grunge.num_children, grunge.hidden) == ("Grunge", 0, 0)
    assert indie.name == "Indie Rock" and indie.num_children == indie.num_leaves == 1
    assert indie.hidden == 1
    assert indie.children == () and ex.hidden == 1
    assert explain_genre(tax, "Alternative Rock", depth=2).hidden == 0


def test_explain_leaf_root_and_depth_zero(tax):
    leaf = explain_genre(tax, "math rock")
    assert leaf.is_leaf and leaf.head_size == 0 and leaf.num_leaves == 0
    assert leaf.head.startswith("a leaf: no head; predicted as a child of Indie Rock")
    root = explain_genre(tax, "MUSIC", depth=0)
    assert root.name == "Music" and root.level == 0 and root.parent is None
    assert root.path == ("Music",) and root.siblings == ()
    assert root.head == "the top-level head over its 3 children: Jazz, Pop, Rock"
    assert root.tree.children == () and root.hidden == 11 == root.num_descendants
    with pytest.raises(ConfigError):
        explain_genre(tax, "Rock", depth=-1)
    with pytest.raises(UnknownGenreError):
        explain_genre(tax, "Rokc")


def test_explain_lists_at_most_eight_children_in_the_sentence():
    tax = Taxonomy.from_parents({f"G{i:02d}": "Music" for i in range(11)})
    head = explain_genre(tax, "Music").head
    assert head.endswith("G06, G07 and 3 more") and "over its 11 children" in head


def test_to_dict_is_json_ready(tax, dataset):
    data = explain_genre(tax, "Rock", counts=count_albums(dataset, tax)).to_dict()
    back = json.loads(json.dumps(data))
    assert back["tree"]["children"][0]["name"] == "Alternative Rock"
    assert back["albums"] == 2 and back["data"]["per_node"]["Jazz"] == 1


def test_count_albums_is_closed_under_ancestors(tax, dataset):
    counts = count_albums(dataset, tax)
    assert counts.albums == 4 and counts.source.endswith("manifest.csv")
    expected = {"Jazz": 1, "Pop": 1, "Rock": 2, "Bebop": 1, "Cool Jazz": 0, "Free Jazz": 0,
                "Alternative Rock": 2, "Hard Rock": 0, "Grunge": 1, "Indie Rock": 1,
                "Math Rock": 1}  # fmt: skip
    assert counts.per_node == expected
    assert count_albums(dataset / "manifest.csv", tax).per_node == expected  # the file itself
    ex = explain_genre(tax, "Rock", depth=3, counts=counts)
    assert ex.albums == 2
    alt = ex.tree.children[0]
    assert alt.albums == 2 and [c.albums for c in alt.children] == [1, 1]
    assert explain_genre(tax, "Music", counts=counts).tree.albums == 4


def test_count_albums_errors(tax, tmp_path):
    with pytest.raises(DataError, match="no manifest.csv"):
        count_albums(tmp_path, tax)
    (tmp_path / "manifest.csv").write_text("album_id,genre\na1,Rock\n")
    with pytest.raises(DataError, match="labels"):
        count_albums(tmp_path, tax)
    (tmp_path / "manifest.csv").write_text("album_id,image,labels\na1,a.jpg,Rokc|Polka\n")
    with pytest.raises(UnknownGenreError, match="did you mean 'Rock'"):
        count_albums(tmp_path, tax)


def test_taxonomy_stats(tax):
    stats = taxonomy_stats(tax, top=3)
    assert (stats.root, stats.num_nodes, stats.depth, stats.num_leaves) == ("Music", 11, 4, 7)
    assert stats.num_branches == 5 and stats.digest == tax.digest
    rows = [(s.level, s.nodes, s.leaves, s.internal, s.children_min, s.children_mean,
             s.children_max) for s in stats.levels]  # fmt: skip
    assert rows == [
        (0, 1, 0, 1, 3, 3.0, 3),
        (1, 3, 1, 2, 2, 2.5, 3),  # Jazz 3 children, Rock 2, Pop a leaf
        (2, 5, 4, 1, 2, 2.0, 2),
        (3, 2, 1, 1, 1, 1.0, 1),
        (4, 1, 1, 0, None, None, None),
    ]
    assert [b["name"] for b in stats.largest] == ["Rock", "Jazz", "Alternative Rock"]
    assert stats.largest[0] == {"name": "Rock", "level": 1, "children": 2, "descendants": 5,
                                "leaves": 3}  # fmt: skip
    assert json.loads(json.dumps(stats.to_dict()))["levels"][4]["children_mean"] is None
