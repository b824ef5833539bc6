"""Taxonomy API on a hand-built 4-level tree whose every number is worked out by hand below."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hiergenre.errors import ConfigError, UnknownGenreError
from hiergenre.taxonomy import Branch, Taxonomy, load_taxonomy
from hiergenre.tree import tree_tensors

# Music
# ├── Jazz (0)            ├── Bebop (3), Cool Jazz (4)
# ├── Pop (1)
# └── Rock (2)            ├── Alternative Rock (5) ── Grunge (7), Indie Rock (8) ── Math Rock (9)
#                         └── Hard Rock (6)
PARENTS = {
    "Rock": "Music",
    "Math Rock": "Indie Rock",
    "Jazz": "Music",
    "Alternative Rock": "Rock",
    "Indie Rock": "Alternative Rock",
    "Grunge": "Alternative Rock",
    "Hard Rock": "Rock",
    "Bebop": "Jazz",
    "Cool Jazz": "Jazz",
    "Pop": "Music",
}
NAMES = (
    "Jazz", "Pop", "Rock", "Bebop", "Cool Jazz", "Alternative Rock", "Hard Rock",
    "Grunge", "Indie Rock", "Math Rock",
)  # fmt: skip


@pytest.fixture()
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS, aliases={"Alt Rock": "Alternative Rock"})


def test_order_levels_parent_index(tax):
    assert tax.root == "Music"
    assert tax.names == NAMES
    assert tax.num_nodes == 10 and tax.depth == 4
    assert tax.levels.tolist() == [1, 1, 1, 2, 2, 2, 2, 3, 3, 4]
    assert tax.parent_index.tolist() == [-1, -1, -1, 0, 0, 2, 2, 5, 5, 8]
    assert tax.levels.dtype == np.int64 and tax.parent_index.dtype == np.int64
    assert tax.index("Grunge") == 7 and tax.indices(["Pop", "Math Rock"]).tolist() == [1, 9]
    with pytest.raises(ValueError):
        tax.levels[0] = 3  # read-only


def test_branches_are_contiguous(tax):
    assert tax.branches == (
        Branch("Music", -1, 0, 3),
        Branch("Jazz", 0, 3, 5),
        Branch("Rock", 2, 5, 7),
        Branch("Alternative Rock", 5, 7, 9),
        Branch("Indie Rock", 8, 9, 10),
    )
    for b in tax.branches:
        assert list(tax.names[b.start : b.stop]) == tax.children(b.name)
        assert b.size == len(tax.children(b.name))
        parent = tax.root if b.index < 0 else tax.names[b.index]
        assert all(tax.parent(n) == parent for n in tax.names[b.start : b.stop])


def test_structure_queries(tax):
    assert tax.level("Math Rock") == 4 and tax.level("Jazz") == 1
    assert tax.parent("Jazz") == "Music" and tax.parent("Math Rock") == "Indie Rock"
    assert tax.children("Music") == ["Jazz", "Pop", "Rock"]
    assert tax.children("Alternative Rock") == ["Grunge", "Indie Rock"]
    assert tax.siblings("Grunge") == ["Indie Rock"] and tax.siblings("Math Rock") == []
    assert tax.siblings("Pop") == ["Jazz", "Rock"]
    assert tax.ancestors("Math Rock") == ["Rock", "Alternative Rock", "Indie Rock"]
    assert tax.ancestors("Rock") == []
    assert tax.path("Math Rock") == ["Rock", "Alternative Rock", "Indie Rock", "Math Rock"]
    assert tax.descendants("Rock") == ["Alternative Rock", "Hard Rock", "Grunge", "Indie Rock",
                                       "Math Rock"]  # fmt: skip
    assert tax.descendants("Pop") == [] and len(tax.descendants("Music")) == 10
    assert tax.leaves == ("Pop", "Bebop", "Cool Jazz", "Hard Rock", "Grunge", "Math Rock")
    assert tax.is_leaf("Pop") and not tax.is_leaf("Indie Rock")


def test_names_resolve_with_aliases_and_suggestions(tax):
    assert tax.resolve("alt rock") == "Alternative Rock"
    assert tax.resolve("  math-ROCK ") == "Math Rock"
    assert "cool jazz" in tax and "Polka" not in tax and 3 not in tax
    assert tax.try_resolve("Polka") is None
    with pytest.raises(UnknownGenreError) as err:
        tax.resolve("Rokc")
    assert err.value.suggestions == {"Rokc": ["Rock"]}
    assert "did you mean 'Rock'" in str(err.value) and "\n" not in str(err.value)


def test_close_and_ancestry_matrix(tax):
    assert tax.close(["Math Rock", "Bebop"]) == {
        "Rock", "Alternative Rock", "Indie Rock", "Math Rock", "Jazz", "Bebop",
    }  # fmt: skip
    assert tax.close([]) == set() and tax.close(["pop"]) == {"Pop"}
    a = tree_tensors(tax).ancestry
    assert a.dtype == torch.bool and a.shape == (10, 10)
    assert torch.nonzero(a[9]).flatten().tolist() == [2, 5, 8, 9]  # Math Rock
    assert torch.nonzero(a[4]).flatten().tolist() == [0, 4]  # Cool Jazz
    assert a.sum().item() == 3 * 1 + 4 * 2 + 2 * 3 + 4
    assert np.array_equal(tax.ancestry_array(), a.numpy())
    for i, name in enumerate(tax.names):  # row i = the closure of node i
        assert {tax.names[j] for j in torch.nonzero(a[i]).flatten().tolist()} == tax.close([name])


@pytest.mark.parametrize(
    ("a", "b", "lca", "dist", "height"),
    [
        ("Math Rock", "Grunge", "Alternative Rock", 3, 2),
        ("Math Rock", "Bebop", "Music", 6, 4),
        ("Indie Rock", "Math Rock", "Indie Rock", 1, 1),
        ("Hard Rock", "Hard Rock", "Hard Rock", 0, 0),
        ("Pop", "Jazz", "Music", 2, 1),
        ("Rock", "Grunge", "Rock", 2, 2),
    ],
)
def test_lca_distance_height(tax, a, b, lca, dist, height):
    assert tax.lca(a, b) == tax.lca(b, a) == lca
    assert tax.tree_distance(a, b) == tax.tree_distance(b, a) == dist
    assert tax.lca_height(a, b) == tax.lca_height(b, a) == height


def test_lca_height_matrix_equals_scalar_function(tax):
    mat = tax.lca_height_matrix()
    assert mat.shape == (10, 10)
    for (i, a), (j, b) in itertools.product(enumerate(tax.names), repeat=2):
        assert mat[i, j] == tax.lca_height(a, b), (a, b)
    assert (np.diag(mat) == 0).all() and (mat == mat.T).all()


def test_subtree(tax):
    sub = tax.subtree("rock")
    assert sub.root == "Rock" and sub.depth == 3
    assert sub.names == ("Alternative Rock", "Hard Rock", "Grunge", "Indie Rock", "Math Rock")
    assert sub.levels.tolist() == [1, 1, 2, 2, 3]
    assert sub.resolve("alt rock") == "Alternative Rock"  # aliases below the node travel along


@pytest.mark.parametrize("suffix", [".tsv", ".json", ".graphml"])
def test_save_load_round_trip(tax, tmp_path, suffix):
    path = tax.save(tmp_path / f"t{suffix}")
    back = load_taxonomy(path)
    assert back.names == tax.names and back.root == tax.root
    assert back.parent_index.tolist() == tax.parent_index.tolist()
    assert back.digest == tax.digest


def test_save_with_explicit_format(tax, tmp_path):
    tax.save(tmp_path / "t.txt", fmt="json")
    assert (tmp_path / "t.txt").read_text().lstrip().startswith("{")
    with pytest.raises(ConfigError):
        tax.save(tmp_path / "t.x", fmt="yaml")


def test_digest_stable_and_content_sensitive(tax):
    shuffled = dict(reversed(list(PARENTS.items())))
    assert Taxonomy.from_parents(shuffled).digest == tax.digest  # row order does not matter
    assert len(tax.digest) == 16 and int(tax.digest, 16) >= 0
    moved = {**PARENTS, "Grunge": "Rock"}
    assert Taxonomy.from_parents(moved).digest != tax.digest
    renamed = {("Bop" if k == "Bebop" else k): v for k, v in PARENTS.items()}
    assert Taxonomy.from_parents(renamed).digest != tax.digest
