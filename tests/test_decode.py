"""Decoders and `top_paths` on a hand-built 3-level tree with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from trees import ABC_PARENTS

from hiergenre.decode import (
    DECODERS,
    beam_paths,
    greedy_paths,
    min_expected_distance,
    path_ends,
    path_probs,
    paths_to_multi_hot,
    threshold_paths,
    top_paths,
)
from hiergenre.errors import ConfigError
from hiergenre.taxonomy import Taxonomy
from hiergenre.tree import tree_tensors

PARENTS = ABC_PARENTS
#   index: A0 B1 C2 A1:3 A2:4 B1:5 B2:6 A1a:7 A1b:8 B2a:9
# coherent probs: greedy follows A (.5) -> A1 (.3) -> A1a (.16) although B2a (.35) is the best leaf
P = torch.tensor([[0.5, 0.4, 0.1, 0.3, 0.2, 0.05, 0.35, 0.16, 0.14, 0.35]])


def tree() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


def test_path_probs_equal_coherent_probs_and_normalise_flat_scores():
    tax = tree()
    assert torch.allclose(path_probs(P, tax), P)
    flat = path_probs(torch.full((1, 10), 0.5), tax)[0]
    assert flat[7].item() == pytest.approx(1 / 12)  # 1/3 * 1/2 * 1/2
    assert flat[tax.indices(tax.leaves)].sum().item() == pytest.approx(1.0)


def test_greedy():
    assert greedy_paths(P, tree()).tolist() == [[0, 3, 7]]
    two = torch.cat([P, torch.tensor([[0.1, 0.1, 0.8, 0, 0, 0, 0, 0, 0, 0]])])
    assert greedy_paths(two, tree()).tolist() == [[0, 3, 7], [2, -1, -1]]  # C is a leaf


def test_threshold_stops_at_internal_node():
    tax = tree()
    assert threshold_paths(P, tax, 0.1).tolist() == [[0, 3, 7]]
    assert threshold_paths(P, tax, 0.3).tolist() == [[0, 3, -1]]  # A1a .16 < .3
    assert threshold_paths(P, tax, 0.35).tolist() == [[0, -1, -1]]  # A1 .3 < .35
    assert threshold_paths(P, tax, 0.99).tolist() == [[0, -1, -1]]  # level 1 always taken


def test_threshold_per_level():
    tax = tree()
    # level 2 at .25 takes A1 (.3), level 3 at .2 stops before A1a (.16)
    assert threshold_paths(P, tax, (0.25, 0.2)).tolist() == [[0, 3, -1]]
    assert threshold_paths(P, tax, (0.25, 0.15)).tolist() == [[0, 3, 7]]
    assert threshold_paths(P, tax, (0.35, 0.01)).tolist() == [[0, -1, -1]]  # stopped at level 2
    assert threshold_paths(P, tax, [0.15]).tolist() == [[0, 3, 7]]  # the last value repeats
    assert threshold_paths(P, tax, [0.25]).tolist() == [[0, 3, -1]]


def test_beam_width_matters():
    tax = tree()
    paths, scores = beam_paths(P, tax, beam=1, k=3)
    assert paths[0].tolist() == [[0, 3, 7], [-1, -1, -1], [-1, -1, -1]]
    assert scores[0].tolist() == pytest.approx([0.16, 0, 0])
    # beam 2: keeps {A, B}, then {B2 .35, A1 .3}, then {B2a .35, A1a .16}
    paths, scores = beam_paths(P, tax, beam=2, k=3)
    assert paths[0].tolist() == [[1, 6, 9], [0, 3, 7], [-1, -1, -1]]
    assert scores[0].tolist() == pytest.approx([0.35, 0.16, 0])
    # wide beam is exact: leaves by joint B2a .35, A2 .2, A1a .16 (A2 finished at level 2)
    paths, scores = beam_paths(P, tax, beam=10, k=3)
    assert paths[0].tolist() == [[1, 6, 9], [0, 4, -1], [0, 3, 7]]
    assert scores[0].tolist() == pytest.approx([0.35, 0.2, 0.16])


def test_tree_distance_by_hand():
    tax = tree()
    dist = tree_tensors(tax).distance
    # A1a-A1b 2 (via A1), B2a-B 2, C-A 2 (via the root), A2-A 1, A1a-B 4 (A1a A1 A root B)
    hand = {("A1a", "A1b"): 2, ("B2a", "B"): 2, ("C", "A"): 2, ("A2", "A"): 1, ("A1a", "B"): 4}
    for (a, b), d in hand.items():
        assert dist[tax.index(a), tax.index(b)] == d == tax.tree_distance(b, a), (a, b)
    assert tax.lca_height("A1a", "B") == 3 and tax.lca_height("A1a", "A2") == 2


def test_min_expected_distance_hand_computed():
    tax = tree()
    # leaf q: C .1, A2 .2, B1 .05, A1a .16, A1b .14, B2a .35
    # E(A) = .1*2 + .2*1 + .05*3 + .16*2 + .14*2 + .35*4 = 2.55 (E(B) = 2.75, E(A1) = 2.95, ...)
    node, expected = min_expected_distance(P, tax)
    assert node.tolist() == [0] and expected.item() == pytest.approx(2.55)
    # confident: A1a .8 -> E(A1a) = .05*2 + .05*3 + .02*5 + .03*6 + .05*4 = .73 < E(A1) = 1.33
    sure = torch.tensor([[0.9, 0.05, 0.05, 0.85, 0.05, 0.02, 0.03, 0.8, 0.05, 0.03]])
    node, expected = min_expected_distance(sure, tax)
    assert node.tolist() == [7] and expected.item() == pytest.approx(0.73)


def test_path_helpers():
    paths = torch.tensor([[0, 3, 7], [0, -1, -1], [-1, -1, -1]])
    assert path_ends(paths).tolist() == [7, 0, -1]
    hot = paths_to_multi_hot(paths, 10)
    assert hot[0].nonzero().flatten().tolist() == [0, 3, 7]
    assert hot[2].sum() == 0


# A run whose label space stops at level 1: every node below it has probability 0.
LEVEL1 = torch.tensor([[0.6, 0.4, 0.1, 0, 0, 0, 0, 0, 0, 0]])


def test_beam_stops_where_the_label_space_stops():
    """Zero-probability children are not a path: the level-1 genres are the finished paths."""
    paths, scores = beam_paths(LEVEL1, tree(), beam=5, k=3)
    assert paths[0].tolist() == [[0, -1, -1], [1, -1, -1], [2, -1, -1]]
    assert scores[0].tolist() == pytest.approx([0.6 / 1.1, 0.4 / 1.1, 0.1 / 1.1])
    # stopping at level 2: A1 .5, A2 .1 under A; nothing below A1
    level2 = torch.tensor([[0.6, 0.4, 0, 0.5, 0.1, 0, 0.4, 0, 0, 0]])
    paths, scores = beam_paths(level2, tree(), beam=5, k=3)
    assert paths[0].tolist() == [[0, 3, -1], [1, 6, -1], [0, 4, -1]]
    assert scores[0].tolist() == pytest.approx([0.5, 0.4, 0.1])


def test_min_expected_distance_stops_where_the_label_space_stops():
    # ends: A .6/1.1, B .4/1.1, C .1/1.1; E(A) = (.4*2 + .1*2)/1.1 = 0.909 (E(B) 1.27, E(C) 1.82)
    node, expected = min_expected_distance(LEVEL1, tree())
    assert node.tolist() == [0] and expected.item() == pytest.approx(1.0 / 1.1)
    # a confident B and nothing below level 1: B, not one of B's leaves
    node, _ = min_expected_distance(torch.tensor([[0.05, 0.9, 0.05, 0, 0, 0, 0, 0, 0, 0]]), tree())
    assert node.tolist() == [1]


# --- top_paths: ranking by the model's own probabilities (hand-checked on the 10-node tree) ----
def _abc():
    tax = Taxonomy.from_parents(ABC_PARENTS)
    p = {"A": 0.30, "B": 0.60, "C": 0.10, "A1": 0.25, "A2": 0.05, "B1": 0.20, "B2": 0.50,
         "A1a": 0.20, "A1b": 0.05, "B2a": 0.45}  # fmt: skip
    probs = np.array([[p[n] for n in tax.names]], np.float32)
    return tax, probs


def _shown(rows):
    return [(r["path"], [round(x, 6) for x in r["probs"]]) for r in rows]


def test_top_paths_rank_by_the_models_probabilities():
    tax, probs = _abc()
    (greedy,) = top_paths(probs, tax, 2)
    assert _shown(greedy) == [(["B", "B2", "B2a"], [0.6, 0.5, 0.45]),
                              (["A", "A1", "A1a"], [0.3, 0.25, 0.2])]  # fmt: skip
    assert greedy[0]["score"] == pytest.approx(0.45)
    (cut,) = top_paths(probs, tax, 3, threshold=0.3)  # A1 (.25) < .3: stop at A
    assert _shown(cut) == [(["B", "B2", "B2a"], [0.6, 0.5, 0.45]), (["A"], [0.3]),
                           (["C"], [0.1])]  # fmt: skip
    (half,) = top_paths(probs, tax, 1, decode="threshold")  # 0.5 by default: B2a (.45) < .5
    assert _shown(half) == [(["B", "B2"], [0.6, 0.5])]
    for decoder in ("beam", "min-distance"):  # B1 q=.2/.7, B2a q=.5/.7: both pick B2a
        (rows,) = top_paths(probs, tax, 1, decode=decoder)
        assert _shown(rows) == [(["B", "B2", "B2a"], [0.6, 0.5, 0.45])], decoder


def test_top_paths_never_propose_genres_outside_allowed():
    tax, probs = _abc()
    (rows,) = top_paths(probs, tax, 3, allowed={"A", "A1", "A1a", "C"})
    assert _shown(rows) == [(["A", "A1", "A1a"], [0.3, 0.25, 0.2]), (["C"], [0.1])]
    (rows,) = top_paths(probs, tax, 1, allowed={"B", "B1"})  # B2 not allowed: B1 is the child
    assert _shown(rows) == [(["B", "B1"], [0.6, 0.2])]
    with pytest.raises(ConfigError, match="unknown decoder"):
        top_paths(probs, tax, 1, decode="best")


@pytest.mark.parametrize("decode", DECODERS)
def test_top_paths_on_a_label_space_that_stops_at_level_1(decode):
    """A run trained on top-level genres only (the Discogs covers): every decoder answers the
    level-1 genres, ranked by the model's probabilities."""
    tax = Taxonomy.from_parents(ABC_PARENTS)
    probs = np.array([[0.6, 0.3, 0.1, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    rows = top_paths(probs, tax, 3, decode=decode, allowed=["A", "B", "C"])[0]
    assert [r["path"] for r in rows] == [["A"], ["B"], ["C"]]
    assert [r["score"] for r in rows] == pytest.approx([0.6, 0.3, 0.1])
