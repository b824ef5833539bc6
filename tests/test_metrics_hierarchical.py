"""Hierarchical metrics on a tiny taxonomy, against direct set-based computations."""

from __future__ import annotations

import numpy as np
import pytest

import hiergenre.metrics as hm
from hiergenre.taxonomy import Taxonomy

# Rock -> {Metal -> {Black Metal, Doom}, Punk}; Jazz -> {Bebop}
PARENTS = {
    "Rock": "Music", "Jazz": "Music", "Metal": "Rock", "Punk": "Rock",
    "Black Metal": "Metal", "Doom": "Metal", "Bebop": "Jazz",
}  # fmt: skip


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


def _multi_hot(tax: Taxonomy, sets: list[list[str]]) -> np.ndarray:
    out = np.zeros((len(sets), tax.num_nodes), dtype=int)
    for row, names in enumerate(sets):
        out[row, tax.indices(names)] = 1
    return out


def _set_based_hprf(tax: Taxonomy, true: list[list[str]], pred: list[list[str]]):
    """Kiritchenko's definitions, straight from Python sets (micro and per-sample)."""
    closed = [(tax.close(t), tax.close(p)) for t, p in zip(true, pred, strict=True)]
    both = sum(len(t & p) for t, p in closed)
    hp = both / sum(len(p) for _, p in closed)
    hr = both / sum(len(t) for t, _ in closed)
    per = [(len(t & p) / len(p) if p else 0.0, len(t & p) / len(t)) for t, p in closed]
    hf_i = [2 * a * b / (a + b) if a + b else 0.0 for a, b in per]
    sample = (np.mean([a for a, _ in per]), np.mean([b for _, b in per]), np.mean(hf_i))
    return (hp, hr, 2 * hp * hr / (hp + hr)), sample


TRUE = [["Black Metal"], ["Punk", "Bebop"], ["Doom"], ["Jazz"]]
PRED = [["Doom"], ["Punk"], [], ["Bebop", "Metal"]]


def test_hierarchical_prf_matches_set_computation(tax):
    micro, sample = _set_based_hprf(tax, TRUE, PRED)
    anc = tax.ancestry_array()
    got = hm.hierarchical_prf(_multi_hot(tax, TRUE), _multi_hot(tax, PRED), anc, "micro")
    assert (got["hP"], got["hR"], got["hF"]) == pytest.approx(micro)
    got = hm.hierarchical_prf(_multi_hot(tax, TRUE), _multi_hot(tax, PRED), anc, "sample")
    assert (got["hP"], got["hR"], got["hF"]) == pytest.approx(sample)
    # by hand, micro: |A&B| = 2 + 2 + 0 + 1 = 5, |A| = 3 + 2 + 0 + 4 = 9, |B| = 3 + 4 + 3 + 1 = 11
    assert micro[:2] == pytest.approx((5 / 9, 5 / 11))


def test_hierarchical_prf_accepts_node_indices_and_handles_empty(tax):
    anc = tax.ancestry_array()
    true = tax.indices(["Doom", "Bebop"])
    assert hm.hierarchical_prf(true, true, anc) == {"hP": 1.0, "hR": 1.0, "hF": 1.0}
    nothing = np.array([-1, -1])
    assert hm.hierarchical_prf(true, nothing, anc) == {"hP": 0.0, "hR": 0.0, "hF": 0.0}


def test_per_level_and_full_path_accuracy(tax):
    anc, levels = tax.ancestry_array(), tax.levels
    true = tax.indices(["Black Metal", "Black Metal", "Punk", "Bebop"])
    pred = tax.indices(["Doom", "Black Metal", "Metal", "Rock"])
    # level 1: Rock Rock Rock | Rock vs Jazz -> 3/4; level 2: Metal Metal | Metal vs Punk, Bebop
    # vs (none) -> 2/4; level 3: Doom vs Black Metal wrong, right -> 1/2 (only 2 reach level 3)
    true_sets = hm.close_under_ancestors(np.eye(len(anc), dtype=bool)[true], anc)
    at = hm.nodes_at_levels(anc, levels)
    accuracy = {lv: hm.level_scores(true_sets, at[pred, lv - 1], levels == lv)["accuracy"]
                for lv in (1, 2, 3)}  # fmt: skip
    assert accuracy == {1: 0.75, 2: 0.5, 3: 0.5}
    assert hm.full_path_accuracy(true, pred, anc) == 0.25
    # multi-hot input, closed or not, gives the same answer
    closed = hm.close_under_ancestors(_multi_hot(tax, [["Black Metal"]]), anc)
    assert hm.full_path_accuracy(closed, tax.indices(["Black Metal"]), anc) == 1.0


def test_per_level_auroc(tax):
    levels = tax.levels
    y = _multi_hot(tax, [["Rock", "Metal"], ["Jazz", "Bebop"]])
    s = y * 0.9 + 0.05
    s[:, levels == 2] = 0.5  # level 2 scores tied -> 0.5
    got = hm.per_level_auroc(y, s, levels)
    assert got[1] == 1.0 and got[2] == 0.5 and np.isnan(got[3])


def test_hierarchy_violation_rate_by_hand(tax):
    # 5 parent-child edges per album; album 0 violates Metal > Rock and Doom > Metal
    probs = np.zeros((2, tax.num_nodes))
    probs[0, tax.indices(["Rock", "Metal", "Doom"])] = [0.2, 0.5, 0.6]
    probs[1, tax.indices(["Rock", "Metal", "Doom"])] = [0.9, 0.5, 0.5 + 1e-9]  # within eps
    assert hm.hierarchy_violation_rate(probs, tax.parent_index) == pytest.approx(2 / 10)
    probs[:, tax.index("Bebop")] = np.nan  # edge Jazz -> Bebop unknown: left out
    assert hm.hierarchy_violation_rate(probs, tax.parent_index) == pytest.approx(2 / 8)


def test_mistake_severity_and_hdist_by_hand(tax):
    heights = tax.lca_height_matrix()
    true = tax.indices(["Black Metal", "Black Metal", "Black Metal", "Bebop"])
    pred = tax.indices(["Black Metal", "Doom", "Punk", "Rock"])
    # Doom: LCA Metal, height 1; Punk: LCA Rock, height 2; Rock vs Bebop: no LCA, height 2
    got = hm.mistake_severity(true, pred, heights)
    assert got == {"accuracy": 0.25, "mistake_severity": pytest.approx(5 / 3), "n_mistakes": 3}
