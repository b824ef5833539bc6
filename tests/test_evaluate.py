"""evaluate_predictions on hand-made probabilities over a 7-node taxonomy (checked by hand)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from hiergenre.errors import ConfigError
from hiergenre.evaluate import choose_thresholds, default_classes, evaluate_predictions
from hiergenre.taxonomy import KOENIG12, LabelSpace, Taxonomy

# A (level 1) {A1 {A1a}, A2}, B (level 1) {B1}, C (level 1)
PARENTS = {"A": "Music", "B": "Music", "C": "Music", "A1": "A", "A2": "A", "B1": "B", "A1a": "A1"}


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


def space_of(tax: Taxonomy, nodes=None, name="all") -> LabelSpace:
    return LabelSpace(name, tax, tuple(nodes or tax.names))


def probs_for(tax: Taxonomy, rows: list[dict[str, float]]) -> np.ndarray:
    out = np.zeros((len(rows), tax.num_nodes))
    for i, row in enumerate(rows):
        for name, p in row.items():
            out[i, tax.index(name)] = p
    return out


def test_single_label_values(tax):
    classes = space_of(tax, ["A", "B", "C"], "level1")
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.5, 0.1, 0.4]])
    labels = [["A"], ["B"], ["B"], ["C"]]
    m = evaluate_predictions(probs, classes, labels, tax, "singlelabel")
    # predictions A, A, B, A against A, B, B, C
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["balanced_accuracy"] == pytest.approx((1 + 0.5 + 0) / 3)
    # F1: A = 2*1/(1+3) = 0.5, B = 2*1/(2+1) = 2/3, C = 0
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert m["confusion"] == [[1, 0, 0], [1, 1, 0], [1, 0, 0]]
    assert m["n_single"] == 4 and m["majority_share"] == pytest.approx(0.5)
    assert "auroc_micro" not in m  # ranking metrics are for multi-label outputs


def test_single_label_from_class_ids_and_subset(tax):
    classes = space_of(tax, ["A", "B", "C"], "level1")
    probs = np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    m = evaluate_predictions(probs, classes, np.array([1, -1]), tax, "singlelabel")
    assert m["n_single"] == 1 and m["accuracy"] == 1.0


def test_multilabel_values_match_sklearn(tax):
    space = space_of(tax)
    rows = [
        {"A": 0.9, "A1": 0.8, "A1a": 0.6, "A2": 0.3, "B": 0.2, "B1": 0.1, "C": 0.1},
        {"A": 0.3, "A1": 0.1, "A1a": 0.05, "A2": 0.2, "B": 0.7, "B1": 0.6, "C": 0.2},
        {"A": 0.4, "A1": 0.5, "A1a": 0.1, "A2": 0.1, "B": 0.3, "B1": 0.2, "C": 0.6},
    ]
    labels = [["A1a"], ["B1", "A2"], ["C"]]
    probs = probs_for(tax, rows)
    m = evaluate_predictions(probs, space, labels, tax, "multilabel")
    y = space.encode(labels)
    assert m["auroc_micro"] == pytest.approx(roc_auc_score(y.ravel(), probs.ravel()))
    assert m["auprc_micro"] == pytest.approx(average_precision_score(y.ravel(), probs.ravel()))
    cols = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    macro = np.mean([roc_auc_score(y[:, j], probs[:, j]) for j in cols])
    assert m["auroc_macro"] == pytest.approx(macro)
    level = tax.levels[space.indices]  # micro AUROC within each level's columns
    for lv in (1, 2, 3):
        want = roc_auc_score(y[:, level == lv].ravel(), probs[:, level == lv].ravel())
        assert m["auroc_per_level"][lv] == pytest.approx(want), lv
    # At 0.5: predicted {A, A1, A1a}, {B, B1}, {A1, C}; true {A, A1, A1a}, {A, A2, B, B1}, {C}
    assert m["precision_at_0.5"] == pytest.approx(6 / 7)
    assert m["recall_at_0.5"] == pytest.approx(6 / 8)
    # A1 (0.5) > A (0.4) in row 3: one violation out of 3 albums x 4 edges
    assert m["violation_rate"] == pytest.approx(1 / 12)
    # Threshold decode: [A, A1, A1a], [B, B1], [C] (A1 of row 3 is not under C)
    assert m["hP"] == pytest.approx(6 / 6) and m["hR"] == pytest.approx(6 / 8)
    assert m["full_path_accuracy"] == pytest.approx(2 / 3)
    # Greedy paths A > A1 > A1a, B > B1, C: each names one of the album's genres at every level
    # it is labelled to (row 2 carries A and B at level 1, A2 and B1 at level 2)
    assert [m[f"level{lv}_albums"] for lv in (1, 2, 3)] == [3, 2, 1]
    assert [m[f"level{lv}_accuracy"] for lv in (1, 2, 3)] == [1.0, 1.0, 1.0]
    # Single-path albums (rows 1 and 3) carry the mistake severity
    assert m["n_single_path"] == 2
    assert np.isnan(m["mistake_severity"]) and m["path_accuracy_single"] == 1.0
    # Single-label over the level-1 genres: rows 1 (A) and 3 (C); argmax A and C
    assert m["classes"] == ["A", "B", "C"] and m["n_single"] == 2 and m["accuracy"] == 1.0


def test_mistake_severity_and_level_accuracy(tax):
    space = space_of(tax)
    # truth A1a; greedy goes A -> A2: wrong at level 2, cut at level 3 is A2; LCA height 3 - 1 = 2
    rows = [{"A": 0.9, "A1": 0.2, "A1a": 0.2, "A2": 0.7, "B": 0.1, "B1": 0.1, "C": 0.0}]
    m = evaluate_predictions(probs_for(tax, rows), space, [["A1a"]], tax, "hierarchical")
    assert [m[f"level{lv}_accuracy"] for lv in (1, 2, 3)] == [1.0, 0.0, 0.0]
    assert m["mistake_severity"] == pytest.approx(2.0)
    assert m["violation_rate"] == 0.0


def test_thresholds_chosen_for_hf_and_scored(tax):
    space = space_of(tax)
    # album 1 is labelled A1 (P .3), album 2 only A (its P(A1) .3 too): at 0.5 both stop at A,
    # hP 1, hR 2/3, hF .8; at .3 both name A1: hP 3/4, hR 1, hF 6/7. A1a (P 0) is never named,
    # so every level-3 threshold ties and the highest is kept.
    rows = [{"A": 0.9, "A1": 0.3, "A2": 0.1}, {"A": 0.8, "A1": 0.3, "A2": 0.2}]
    labels = [["A1"], ["A"]]
    probs = probs_for(tax, rows)
    at_half = evaluate_predictions(probs, space, labels, tax, "hierarchical")
    assert at_half["hF"] == pytest.approx(0.8) and at_half["decode_thresholds"] == [0.5, 0.5]
    steps = choose_thresholds(probs, labels, tax)
    assert steps == [0.3, 1.0]  # .25 scores the same as .3: the higher one is kept
    tuned = evaluate_predictions(probs, space, labels, tax, "hierarchical", thresholds=steps)
    assert tuned["hF"] == pytest.approx(6 / 7) and tuned["decode_thresholds"] == [0.3, 1.0]
    assert tuned["depth_decoded"] == 2.0 and at_half["depth_decoded"] == 1.0


def test_present_restricts_ranking_columns(tax):
    space = space_of(tax)
    probs = probs_for(tax, [{"A": 0.9, "C": 0.8}, {"A": 0.1, "C": 0.2}])
    full = evaluate_predictions(probs, space, [["A"], ["C"]], tax)
    sub = evaluate_predictions(probs, space, [["A"], ["C"]], tax, present=["A", "C"])
    assert sub["n_scored_labels"] == 2 and full["n_scored_labels"] == 7
    y = np.array([[1, 0], [0, 1]])
    assert sub["auroc_micro"] == pytest.approx(roc_auc_score(y.ravel(), [0.9, 0.8, 0.1, 0.2]))


def test_flat_model_over_a_subset_space(tax):
    """A sigmoid model over level-1 genres only: no edges, so no violation rate (NaN)."""
    space = space_of(tax, ["A", "B", "C"], "level1")
    m = evaluate_predictions(np.array([[0.8, 0.1, 0.3]]), space, [["A1"]], tax)
    assert np.isnan(m["violation_rate"]) and m["accuracy"] == 1.0


def test_default_classes_prefers_koenig12_else_level1(tax):
    assert default_classes(space_of(tax)).nodes == ("A", "B", "C")
    # a tree holding the poster's 12 genres (and one more level-1 genre): the 12, in tree order
    parents = {name: "Music" for name in KOENIG12} | {"Polka": "Music", "Bebop": "Jazz"}
    big = Taxonomy.from_parents(parents)
    classes = default_classes(space_of(big))
    assert classes.name == "koenig12" and set(classes.nodes) == set(KOENIG12)
    assert list(classes.nodes) == [n for n in big.names if n in KOENIG12]
    # one of the 12 missing from the label space: back to its level-1 nodes
    without = space_of(big, [n for n in big.names if n != "Jazz" and n != "Bebop"])
    fallback = default_classes(without)
    assert "Polka" in fallback.nodes and "Jazz" not in fallback.nodes and len(fallback.nodes) == 12


def test_bad_shapes_and_task(tax):
    space = space_of(tax)
    with pytest.raises(ConfigError):
        evaluate_predictions(np.zeros((2, 3)), space, [["A"], ["B"]], tax)
    with pytest.raises(ConfigError):
        evaluate_predictions(np.zeros((1, 7)), space, [["A"]], tax, task="regression")


def test_per_level_numbers_over_albums_labelled_to_that_depth(tax):
    """Level 1 over every album, level 2 over those with a level-2 genre; a multi-genre album is
    right when the path's node is any of its genres; balanced accuracy by class."""
    rows = [
        {"A": 0.9, "A1": 0.6, "A2": 0.3, "B": 0.1, "C": 0.1},  # truth A1: right, right
        {"A": 0.8, "A1": 0.5, "A2": 0.4, "B": 0.1, "C": 0.1},  # truth A2: right, wrong
        {"A": 0.1, "B": 0.3, "B1": 0.2, "C": 0.6},  # truth B1 + C: right (C), no level-2 node
        {"A": 0.7, "B": 0.1, "C": 0.2},  # truth C: wrong, not labelled to level 2
        {"A": 0.6, "B": 0.4, "B1": 0.3, "C": 0.1},  # truth B: wrong
    ]
    truth = [["A1"], ["A2"], ["B1", "C"], ["C"], ["B"]]
    m = evaluate_predictions(probs_for(tax, rows), space_of(tax), truth, tax, "hierarchical")
    assert (m["level1_albums"], m["level2_albums"], m["level3_albums"]) == (5, 3, 0)
    assert m["level1_accuracy"] == pytest.approx(3 / 5)
    assert m["level1_balanced_accuracy"] == pytest.approx((1 + 1 / 2 + 0) / 3)  # A, C, B
    assert m["level2_accuracy"] == pytest.approx(1 / 3)
    assert m["level2_balanced_accuracy"] == pytest.approx(1 / 3)  # A1 1, A2 0, B1 0
    y1 = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1], [0, 1, 0]])
    s1 = np.array([[r.get(n, 0.0) for n in "ABC"] for r in rows])
    ap = [average_precision_score(y1[:, j], s1[:, j]) for j in range(3)]
    assert m["level1_auprc_macro"] == pytest.approx(np.mean(ap))
    curve = m["depth_curve"]
    at = {t: i for i, t in enumerate(curve["threshold"])}
    assert curve["named"][at[0.0]] == pytest.approx(2 / 3)  # album 3's path has no level-2 node
    assert curve["precision"][at[0.0]] == pytest.approx(1 / 2)
    assert curve["named"][at[0.55]] == pytest.approx(1 / 3) and curve["precision"][at[0.55]] == 1
    assert curve["named"][at[0.65]] == 0 and np.isnan(curve["precision"][at[0.65]])


def test_a_level1_model_has_no_level2_numbers(tax):
    space = space_of(tax, ["A", "B", "C"], "level1")
    m = evaluate_predictions(np.array([[0.8, 0.1, 0.3]]), space, [["A1"]], tax)
    assert m["level1_accuracy"] == 1.0 and "level2_accuracy" not in m and "depth_curve" not in m
