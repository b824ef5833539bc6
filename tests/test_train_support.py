"""The builders in tests/helpers.py do what the training tests rely on."""

from __future__ import annotations

import torch
from helpers import tiny_data, tiny_model, tiny_taxonomy


def test_tiny_model_follows_the_genre_model_contract():
    tax = tiny_taxonomy()
    for output, k in (("sigmoid", 8), ("softmax", 3), ("hierarchical", 8)):
        model = tiny_model(tax, output)
        logits = model(torch.rand(2, 3, 32, 32))
        probs = model.node_probs(logits)
        assert logits.shape == (2, k) and probs.shape == (2, model.label_space.size)
        assert torch.all((probs >= 0) & (probs <= 1))


def test_tiny_data_targets_match_the_labels():
    tax = tiny_taxonomy()
    data = tiny_data(tiny_model(tax, "softmax"), n=10)
    # albums 0..5: Metal, Punk, Bebop, Swing, Synth, Metal; classes Jazz=0, Pop=1, Rock=2
    assert data.targets["train"].tolist() == [2, 2, 0, 0, 1, 2]
