"""Losses on a hand-built 3-level tree with hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from trees import ABC_PARENTS

from hiergenre.losses import bce, hierarchical_conditional_loss, mc_loss, soft_tree_labels
from hiergenre.taxonomy import Taxonomy
from hiergenre.tree import tree_tensors

PARENTS = ABC_PARENTS


def tree() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


def targets(*label_sets: list[str]) -> torch.Tensor:
    tax = tree()
    out = torch.zeros(len(label_sets), tax.num_nodes)
    for row, labels in enumerate(label_sets):
        for name in tax.close(labels):
            out[row, tax.index(name)] = 1
    return out


def test_conditional_softmax_is_path_nll():
    tax = tree()
    zero = torch.zeros(1, 10)
    # uniform heads: -log(1/3 * 1/2 * 1/2) = log 12
    assert hierarchical_conditional_loss(zero, targets(["A1a"]), tax).item() == pytest.approx(
        math.log(12)
    )
    both = hierarchical_conditional_loss(torch.zeros(2, 10), targets(["A1a"], ["C"]), tax)
    assert both.item() == pytest.approx((math.log(12) + math.log(3)) / 2)
    # labelled at an internal node: no term below it
    assert hierarchical_conditional_loss(zero, targets(["A"]), tax).item() == pytest.approx(
        math.log(3)
    )
    # two children positive: soft target (.5, .5) on A1's head -> log 2 there
    assert hierarchical_conditional_loss(zero, targets(["A1a", "A1b"]), tax).item() == (
        pytest.approx(math.log(12))
    )


def test_conditional_softmax_gradient_only_on_active_heads():
    logits = torch.zeros(1, 10, requires_grad=True)
    hierarchical_conditional_loss(logits, targets(["A2"]), tree()).backward()
    assert logits.grad[0, [5, 6, 7, 8, 9]].abs().sum() == 0  # B's, A1's, B2's heads untouched
    assert logits.grad[0, [0, 3]].tolist() == pytest.approx([-2 / 3, 0.5])


def test_conditional_sigmoid_hand_value():
    logits = torch.zeros(1, 10)
    logits[0, 0] = 2.0
    # active: A, B, C (level 1), A1, A2 (under A), A1a, A1b (under A1) = 7 terms
    expected = (math.log1p(math.exp(-2.0)) + 6 * math.log(2)) / 7
    got = hierarchical_conditional_loss(logits, targets(["A1a"]), tree(), mode="sigmoid")
    assert got.item() == pytest.approx(expected)


def test_mc_loss_chain_example():
    tax = Taxonomy.from_parents({"a": "root", "b": "a"})
    anc = tree_tensors(tax).ancestry
    logits = torch.logit(torch.tensor([[0.2, 0.7]]))
    # y = [1, 0]: out = [MCM(y*h)_a, MCM(h)_b] = [.2, .7] -> (-log .2 - log .3) / 2
    got = mc_loss(logits, torch.tensor([[1.0, 0.0]]), anc)
    assert got.item() == pytest.approx((-math.log(0.2) - math.log(0.3)) / 2, rel=1e-5)
    # y = [1, 1]: out = [.7, .7] -> -log .7
    got = mc_loss(logits, torch.tensor([[1.0, 1.0]]), anc)
    assert got.item() == pytest.approx(-math.log(0.7), rel=1e-5)


def test_soft_tree_labels_hand_value():
    tax = tree()
    # leaves in order: C, A2, B1, A1a, A1b, B2a; from A1a the LCA heights are 3, 2, 3, 0, 1, 3
    soft = soft_tree_labels(torch.tensor([3]), tax, beta=1.0)[0]
    weights = torch.exp(-torch.tensor([3.0, 2.0, 3.0, 0.0, 1.0, 3.0]))
    assert soft.tolist() == pytest.approx((weights / weights.sum()).tolist(), abs=1e-6)
    assert soft[3].item() == pytest.approx(1 / 1.652575, abs=1e-5)
    sharp = soft_tree_labels(torch.tensor([0]), tax, beta=50.0)[0]
    assert sharp[0].item() == pytest.approx(1.0)
    level1 = torch.tensor([0, 1, 2])  # custom class set: A, B, C
    assert soft_tree_labels(torch.tensor([1]), tax, 1.0, level1)[0].tolist() == pytest.approx(
        [0.2119416, 0.5761169, 0.2119416], abs=1e-6
    )


def test_bce_matches_formula():
    logits = torch.tensor([[0.0, 2.0]])
    assert bce(logits, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(
        (math.log(2) + math.log1p(math.exp(2.0))) / 2
    )
