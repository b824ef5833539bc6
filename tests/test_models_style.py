"""Style (Gram) encoder: hand-computed statistics, shapes, PCA, copies."""

from __future__ import annotations

import copy

import pytest
import torch

from hiergenre.errors import ConfigError
from hiergenre.models import get_model, gram_statistics
from hiergenre.taxonomy import Taxonomy


def tax() -> Taxonomy:
    return Taxonomy.from_parents({"A": "Music", "B": "Music", "A1": "A"})


def test_gram_statistics_hand_value():
    # 2 channels over 2 positions: [1, 3] and [2, 0]
    fmap = torch.tensor([[[[1.0, 3.0]], [[2.0, 0.0]]]])
    stats = gram_statistics(fmap)[0]
    # means 2, 1; stds 1, 1; Gram/positions: (1+9)/2 = 5, (2+0)/2 = 1, (4+0)/2 = 2
    assert stats.tolist() == pytest.approx([2, 1, 1, 1, 5, 1, 2])


def test_style_on_tiny_backbone_dims_and_frozen():
    model = get_model("style", None, tax(), backbone="tiny", with_semantic=False)
    enc = model.encoder
    # taps: body.0 (8 ch) and body.1 (16 ch): (2*8 + 36) + (2*16 + 136) = 220
    assert enc.feature_dim == 220
    assert model.encoder_frozen and not any(p.requires_grad for p in enc.parameters())
    x = torch.rand(3, 3, 32, 32)
    feats = enc(x)
    assert feats.shape == (3, 220)
    assert torch.allclose(feats.norm(dim=1), torch.ones(3), atol=1e-5)  # unit norm overall
    semantic = get_model("style", None, tax(), backbone="tiny").encoder
    assert semantic.feature_dim == 220 + 16


def test_channel_projection_caps_gram_size():
    model = get_model("style", None, tax(), backbone="tiny", max_channels=4, with_semantic=False)
    assert model.encoder.feature_dim == 2 * (2 * 4 + 10)
    proj = model.encoder.proj_0
    assert torch.allclose(proj.T @ proj, torch.eye(4), atol=1e-5)  # orthonormal columns
    again = get_model("style", None, tax(), backbone="tiny", max_channels=4, with_semantic=False)
    assert torch.equal(again.encoder.proj_0, proj)  # seeded


def test_pca_reduction_must_be_fitted():
    model = get_model("style", None, tax(), backbone="tiny", reduce_dim=5).eval()
    x = torch.rand(12, 3, 32, 32)
    with pytest.raises(ConfigError, match="fit the style PCA"):
        model(x)
    raw = model.encoder.raw_features(x)
    model.encoder.fit_reduction(raw)
    out = model.encoder(x)
    assert out.shape == (12, 5)
    assert torch.allclose(out.mean(0), torch.zeros(5), atol=1e-5)  # centred on the train set
    assert "encoder.pca_components" in model.state_dict()


def test_deepcopy_keeps_hooks_on_the_copy():
    model = get_model("style", None, tax(), backbone="tiny").eval()
    twin = copy.deepcopy(model)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(twin(x), model(x))
        twin.encoder.backbone.body[0][0].weight.mul_(2)
        assert not torch.allclose(twin(x), model(x))


def test_unknown_layer_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown layer"):
        get_model("style", None, tax(), backbone="tiny", layers=("nope",))


@pytest.mark.slow
def test_lite0_style_default():
    model = get_model("style", None, tax()).eval()
    assert model.pretrained is True
    # lite0 taps its stem and 7 stages: 32, 16, 24, 40, 80, 112, 192, 320 channels, the last
    # three projected to 96; plus 1280 pooled features
    dims = [32, 16, 24, 40, 80, 96, 96, 96]
    assert model.encoder.feature_dim == sum(2 * d + d * (d + 1) // 2 for d in dims) + 1280
    with torch.no_grad():
        assert model(torch.rand(2, 3, 64, 64)).shape == (2, 3)
