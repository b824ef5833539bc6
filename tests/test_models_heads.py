"""Hierarchical heads: segment softmax, the chain rule, coherence, MCM, tree restriction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from trees import ABC_PARENTS

from hiergenre.models import (
    TreeStructure,
    chain_log_probs,
    conditional_log_probs,
    get_model,
    hierarchical_probs,
    mcm,
    restrict_taxonomy,
    segment_log_softmax,
)
from hiergenre.taxonomy import KOENIG12, Taxonomy
from hiergenre.tree import tree_tensors

PARENTS = ABC_PARENTS
# BFS order: A B C A1 A2 B1 B2 A1a A1b B2a (indices 0..9)


def tree() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS)


def edges(tax: Taxonomy) -> tuple[torch.Tensor, torch.Tensor]:
    child = torch.tensor([i for i, p in enumerate(tax.parent_index) if p >= 0])
    return child, torch.as_tensor(tax.parent_index.copy())[child]


def test_structure_indices():
    st = TreeStructure(tree())
    assert st.segment_id.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4]
    assert st.level_bounds == ((0, 3), (3, 7), (7, 10))
    assert st.parent_local(1).tolist() == [0, 0, 1, 1]
    assert st.parent_local(2).tolist() == [0, 0, 3]


def test_segment_softmax_matches_per_segment_loop():
    torch.manual_seed(0)
    logits = torch.randn(5, 10) * 4
    seg = TreeStructure(tree()).segment_id
    got = segment_log_softmax(logits, seg, 5)
    for s in range(5):
        cols = (seg == s).nonzero().flatten()
        assert torch.allclose(got[:, cols], torch.log_softmax(logits[:, cols], dim=1), atol=1e-6)


def test_chain_equals_ancestry_matmul_and_hand_value():
    tax = tree()
    st = TreeStructure(tax)
    logits = torch.randn(4, 10)
    log_cond = conditional_log_probs(logits, st, "softmax")
    anc = tree_tensors(tax).ancestry.float()
    assert torch.allclose(chain_log_probs(log_cond, st), log_cond @ anc.T, atol=1e-5)
    # hand example: zero logits -> uniform per branch; P(A1a) = 1/3 * 1/2 * 1/2
    probs = hierarchical_probs(torch.zeros(1, 10), st, "softmax")[0]
    assert probs[7].item() == pytest.approx(1 / 12)
    assert probs[9].item() == pytest.approx(1 / 6)  # B2a is B2's only child: 1/3 * 1/2 * 1


@pytest.mark.parametrize("mode", ["softmax", "sigmoid"])
def test_coherence_on_random_logits(mode):
    tax = tree()
    st = TreeStructure(tax)
    child, parent = edges(tax)
    logits = torch.randn(256, 10) * 20  # saturating logits too
    probs = hierarchical_probs(logits, st, mode)
    assert (probs[:, child] <= probs[:, parent]).all()
    if mode == "softmax":  # children of each parent sum to the parent
        assert torch.allclose(probs[:, 3] + probs[:, 4], probs[:, 0], atol=1e-6)
        assert torch.allclose(probs[:, :3].sum(1), torch.ones(256), atol=1e-6)


def test_mcm_hand_example_and_coherence():
    tax = tree()
    anc = tree_tensors(tax).ancestry
    p = torch.tensor([[0.1, 0.2, 0.3, 0.05, 0.4, 0.0, 0.1, 0.9, 0.2, 0.6]])
    out = mcm(p, anc)[0]
    # A = max(A, A1, A2, A1a, A1b) = .9; A1 = max(.05, .9, .2) = .9; B = max(.2, 0, .1, .6) = .6
    expected = [0.9, 0.6, 0.3, 0.9, 0.4, 0.0, 0.6, 0.9, 0.2, 0.6]
    assert out.tolist() == pytest.approx(expected)
    child, parent = edges(tax)
    rand = mcm(torch.rand(300, 10), anc, chunk=1000)  # chunked path gives the same answer
    assert (rand[:, child] <= rand[:, parent]).all()


def test_hierarchical_model_is_coherent_end_to_end():
    tax = tree()
    child, parent = edges(tax)
    for mode in ("softmax", "sigmoid"):
        model = get_model("hierarchical", None, tax, encoder="tiny", mode=mode).eval()
        with torch.no_grad():
            probs = model.node_probs(model(torch.rand(6, 3, 32, 32)))
        assert probs.shape == (6, 10)
        assert (probs[:, child] <= probs[:, parent]).all()


def koenig_tree() -> Taxonomy:
    parents = {name: "Music" for name in KOENIG12}
    parents.update({"Pop": "Music", "Teen Pop": "Pop", "Bebop": "Jazz", "Swing": "Jazz",
                    "Doom": "Metal", "Funeral Doom": "Doom"})  # fmt: skip
    return Taxonomy.from_parents(parents)


def level1_nodes(tax: Taxonomy) -> list[int]:
    return [tax.index(n) for n in KOENIG12]


def test_koenig12_restriction_drops_other_branches():
    tax = koenig_tree()
    sub = restrict_taxonomy(tax, list(KOENIG12))
    assert "Pop" not in sub.names and "Teen Pop" not in sub.names
    assert sub.num_nodes == 16
    model = get_model(
        "hierarchical", None, tax, encoder="tiny", top_level="koenig12", mode="softmax"
    ).eval()
    assert model.label_space.size == 16
    assert model.label_space.taxonomy is tax  # positions refer to the full taxonomy
    with torch.no_grad():
        probs = model.node_probs(model(torch.rand(2, 3, 32, 32)))
    level1 = [model.label_space.position(n) for n in KOENIG12]
    assert torch.allclose(probs[:, level1].sum(1), torch.ones(2), atol=1e-6)
    full = model.label_space.to_nodes(probs.numpy())
    outside = [tax.index("Pop"), tax.index("Teen Pop")]  # not in the koenig12 tree: no score
    assert np.isnan(full[:, outside]).all() and not np.isnan(full[:, level1_nodes(tax)]).any()
    assert full[0, tax.index("Funeral Doom")] <= full[0, tax.index("Doom")]


def test_per_branch_models_cover_every_node_and_are_coherent():
    tax = tree()
    model = get_model("hierarchical", None, tax, encoder="tiny", strategy="per-branch-models")
    assert model.branch_names == ("A", "B")  # C has no children: no branch model
    assert len(model.encoder.parts) == 3
    x = torch.rand(4, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        logits = model(x)
        # branch B's model alone decides B1's logit: zeroing A's features leaves it unchanged
        feats = model.encoder(x)
        cut = feats.clone()
        cut[:, 16:32] = 0
        changed = (model.head(cut) - logits).abs() > 0
    assert changed[:, [3, 4, 7, 8]].all() and not changed[:, [0, 1, 2, 5, 6, 9]].any()
    probs = model.node_probs(logits)
    child, parent = edges(tax)
    assert (probs[:, child] <= probs[:, parent]).all()
