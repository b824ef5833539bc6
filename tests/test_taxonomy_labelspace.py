"""LabelSpace: encode, to_nodes, fingerprint, named spaces, the poster's single-label rule."""

from __future__ import annotations

import numpy as np
import pytest

from hiergenre.errors import ConfigError, UnknownGenreError
from hiergenre.taxonomy import LabelSpace, Taxonomy, get_label_space, single_label_subset

PARENTS = {"Rock": "Music", "Jazz": "Music", "Pop": "Music", "Alternative Rock": "Rock",
           "Hard Rock": "Rock", "Indie Rock": "Alternative Rock", "Grunge": "Alternative Rock",
           "Math Rock": "Indie Rock", "Bebop": "Jazz", "Cool Jazz": "Jazz"}  # fmt: skip
# order: Jazz 0, Pop 1, Rock 2, Bebop 3, Cool Jazz 4, Alternative Rock 5, Hard Rock 6,
#        Grunge 7, Indie Rock 8, Math Rock 9
LABELS = [["Math Rock"], ["Bebop", "pop"], [], ["Grunge", "Hard Rock"], ["Jazz"]]


@pytest.fixture()
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


def test_named_spaces(tax):
    full = get_label_space("all", tax)
    assert full.nodes == tax.names and full.size == 10
    assert full.indices.tolist() == list(range(10))
    level1 = get_label_space("level1", tax)
    assert level1.nodes == ("Jazz", "Pop", "Rock") and level1.indices.tolist() == [0, 1, 2]
    assert level1.position("rock") == 2
    with pytest.raises(ConfigError, match="unknown label space 'top5'"):
        get_label_space("top5", tax)
    with pytest.raises(UnknownGenreError):  # the poster's 12 are not in this tiny tree
        get_label_space("koenig12", tax)


def test_encode_with_and_without_closure(tax):
    full = get_label_space("all", tax)
    y = full.encode(LABELS)
    assert y.dtype == np.float32 and y.shape == (5, 10)
    assert np.nonzero(y[0])[0].tolist() == [2, 5, 8, 9]
    assert np.nonzero(y[1])[0].tolist() == [0, 1, 3]
    assert y[2].sum() == 0
    assert np.nonzero(y[3])[0].tolist() == [2, 5, 6, 7]
    assert np.nonzero(full.encode(LABELS, close=False)[0])[0].tolist() == [9]
    level1 = get_label_space("level1", tax)
    assert level1.encode(LABELS).tolist() == [[0, 0, 1], [1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 0, 0]]
    assert level1.encode(LABELS, close=False)[:2].tolist() == [[0, 0, 0], [0, 1, 0]]
    with pytest.raises(UnknownGenreError):
        level1.encode([["Polka"]])


def test_to_nodes_scatters_in_taxonomy_order(tax):
    space = LabelSpace("custom", tax, ("Pop", "Bebop", "Math Rock"))
    scores = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], dtype=np.float32)
    out = space.to_nodes(scores)
    assert out.shape == (2, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, [1, 3, 9]], scores)
    assert np.isnan(out[:, [0, 2, 4, 5, 6, 7, 8]]).all()
    assert (space.to_nodes(scores, fill=0.0)[:, 0] == 0).all()


def test_fingerprint_changes_with_taxonomy(tax):
    level1 = get_label_space("level1", tax)
    assert level1.fingerprint() == f"level1:{tax.digest}:3"
    other = Taxonomy.from_parents({**PARENTS, "Grunge": "Rock"})
    assert get_label_space("level1", other).fingerprint() != level1.fingerprint()


def test_single_label_subset(tax):
    level1 = get_label_space("level1", tax)
    assert single_label_subset(LABELS, level1).tolist() == [2, -1, -1, 2, 0]
    assert single_label_subset(LABELS, level1, close=False).tolist() == [-1, 1, -1, -1, 0]
    assert single_label_subset([], level1).dtype == np.int64
