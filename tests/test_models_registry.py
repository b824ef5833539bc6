"""Registry, shapes, parameter counts and a few training steps for every registered model."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hiergenre.errors import ConfigError
from hiergenre.losses import bce, hierarchical_conditional_loss
from hiergenre.models import get_model, list_models, model_config_class, register_model
from hiergenre.taxonomy import Taxonomy, get_label_space

# Light options so each registered model builds and runs in about a second on a CPU; a model
# registered without an entry here runs with its defaults.
FAST = {
    "tiny": {},
    "koenig-multilabel": {"width": 0.125},
    "koenig-singlelabel": {"width": 0.5},
    "lite0": {"weights": "none"},  # the packaged weights are tested in test_models_lite0.py
    "style": {"backbone": "tiny"},
    "resnet101": {"weights": "none"},  # no download; the weights path is in test_models_resnet.py
    "hierarchical": {"encoder": "tiny"},
    "timm": {"model_name": "test_resnet", "weights": "none"},  # any timm model by name
}


def small_taxonomy() -> Taxonomy:
    return Taxonomy.from_parents(
        {"A": "Music", "B": "Music", "C": "Music", "A1": "A", "A2": "A", "B1": "B", "B2": "B",
         "A1a": "A1", "A1b": "A1", "B2a": "B2"}
    )  # fmt: skip


def test_names_registered():
    expected = {"tiny", "koenig-multilabel", "koenig-singlelabel", "resnet101", "lite0", "style",
                "hierarchical"}  # fmt: skip
    assert expected <= set(list_models())


def test_unknown_name_suggests():
    with pytest.raises(ConfigError, match="did you mean 'lite0'"):
        get_model("lite1", None, small_taxonomy())


def test_unknown_option_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid ones are .*width"):
        get_model("koenig-multilabel", None, small_taxonomy(), widht=0.5)


def test_duplicate_registration_refused():
    with pytest.raises(ConfigError, match="registered twice"):
        register_model("tiny")(lambda config, label_space, taxonomy: None)


def test_configs_frozen_with_defaults():
    for name in list_models():
        cls = model_config_class(name)
        config = cls()  # every field has a default
        field = dataclasses.fields(cls)[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(config, field.name, None)


def test_fast_options_name_registered_models():
    assert set(FAST) <= set(list_models())


def edges_in_space(model) -> tuple[list[int], list[int]]:
    """(child, parent) positions of the label space's tree edges."""
    space, tax = model.label_space, model.label_space.taxonomy
    pos = {n: i for i, n in enumerate(space.nodes)}
    pairs = [(i, pos[tax.parent(n)]) for i, n in enumerate(space.nodes) if tax.parent(n) in pos]
    return [c for c, _ in pairs], [p for _, p in pairs]


@pytest.mark.parametrize("name", list_models())
def test_model_contract(name):
    """Every registered model: shapes, per-album outputs that depend on the pixels, and node
    probabilities that follow the model's output kind."""
    torch.manual_seed(0)
    tax = small_taxonomy()
    space = "level1" if name == "koenig-singlelabel" else None  # its default koenig12 needs MuMu
    model = get_model(name, space, tax, **FAST.get(name, {})).eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        alone = model(x[1:2])
        probs = model.node_probs(logits)
    assert logits.shape == (3, model.label_space.size)
    assert probs.shape == (3, model.label_space.size)
    assert torch.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()
    # an album's logits do not depend on the rest of its batch (no batch statistics in eval) ...
    torch.testing.assert_close(alone[0], logits[1], atol=1e-4, rtol=1e-4)
    # ... and do depend on its pixels
    assert (logits[0] - logits[1]).abs().max() > 1e-6
    if model.output == "sigmoid":
        torch.testing.assert_close(probs, torch.sigmoid(logits))
    elif model.output == "softmax":
        torch.testing.assert_close(probs.sum(1), torch.ones(3))
        assert torch.equal(probs.argmax(1), logits.argmax(1))
    else:
        child, parent = edges_in_space(model)
        assert child and (probs[:, child] <= probs[:, parent] + 1e-6).all()
    with torch.no_grad():
        assert model.encoder.feature_dim == model.encoder(x).shape[1]


def test_default_label_spaces():
    tax = small_taxonomy()
    assert get_model("tiny", None, tax).label_space.size == tax.num_nodes
    space = get_label_space("level1", tax)
    model = get_model("tiny", space, tax, output="softmax")
    assert model.label_space.size == 3
    assert torch.allclose(model.node_probs(torch.zeros(1, 3)).sum(), torch.tensor(1.0))


def test_parameter_counts_at_224():
    tax = small_taxonomy()  # K = 10 outputs
    ml = get_model("koenig-multilabel", None, tax, width=1.0)  # the poster's, not the CPU default
    # conv blocks (3x3, no bias) + BatchNorm (2 per channel), channels 3-32-64-128-256-256-512:
    # 928 + 18560 + 73984 + 295424 + 590336 + 1180672 = 2,159,904
    # FC 512*3*3=4608 -> 2048 (no bias) + BN: 9,441,280; 2048 -> 2048 + BN twice: 8,396,800
    # encoder 19,997,984; head 2049 * 10 = 20,490 -> 20,018,474 (with 445 nodes: 20,909,789)
    assert sum(p.numel() for p in ml.encoder.parameters()) == 19_997_984
    assert sum(p.numel() for p in ml.parameters()) == 20_018_474
    sl = get_model("koenig-singlelabel", "level1", tax, width=1.0)
    # conv 3-16-32-64-128-128: 464 + 4672 + 18560 + 73984 + 147712 = 245,392
    # FC 128*7*7=6272 -> 128 + BN: 803,072; 128 -> 128 + BN: 16,640 -> encoder 1,065,104
    # head 129 * 3 = 387 (with the poster's 12 genres: 1,548 -> 1,066,652)
    assert sum(p.numel() for p in sl.encoder.parameters()) == 1_065_104
    assert sum(p.numel() for p in sl.parameters()) == 1_065_491
    # the 224 px FC input is reached at any size >= 64 by adaptive pooling
    with torch.no_grad():
        assert ml.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 10)
        assert ml(torch.rand(1, 3, 224, 224)).shape == (1, 10)


@pytest.mark.parametrize(
    "name", ["tiny", pytest.param("koenig-multilabel", marks=pytest.mark.slow), "hierarchical"]
)
def test_few_steps_overfit_tiny_batch(name):
    torch.manual_seed(0)
    tax = small_taxonomy()
    model = get_model(name, None, tax, **FAST[name])
    size = 64 if name == "koenig-multilabel" else 32
    x = torch.rand(8, 3, size, size)
    labels = [["A1a"], ["A2"], ["B1"], ["B2a"], ["C"], ["A1b"], ["A2"], ["B1"]]
    y = torch.from_numpy(model.label_space.encode(labels))
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)

    def loss_fn():
        logits = model(x)
        if model.output == "hierarchical":
            return hierarchical_conditional_loss(logits, y, tax)
        return bce(logits, y)

    first = loss_fn().item()
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_frozen_mode_keeps_encoder_fixed():
    tax = small_taxonomy()
    model = get_model(
        "hierarchical", None, tax, encoder="lite0", encoder_options={"mode": "frozen"}
    )
    assert model.encoder_frozen
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    model.train()
    assert not model.encoder.training and model.head.training
