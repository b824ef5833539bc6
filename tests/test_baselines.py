"""Baselines on tiny in-memory images where colour encodes the class."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

import hiergenre.metrics as hm
from hiergenre.baselines import (
    ColorHistogramBaseline,
    MajorityBaseline,
    PcaLdaKnnBaseline,
    PriorBaseline,
    colour_histograms,
    get_baseline,
    thumbnails,
)
from hiergenre.errors import ConfigError, DataError
from hiergenre.taxonomy import LabelSpace, Taxonomy

COLOURS = np.array([[220, 40, 40], [40, 200, 60], [50, 60, 230], [230, 220, 50]])


@pytest.fixture(scope="module")
def space() -> LabelSpace:
    tax = Taxonomy.from_parents({"Rock": "Music", "Jazz": "Music", "Pop": "Music", "Folk": "Music"})
    return LabelSpace("tiny", tax, tax.names)


def coloured_images(classes: np.ndarray, size: int = 16, seed: int = 0) -> np.ndarray:
    """(N, size, size, 3) uint8: each image is its class colour plus strong pixel noise."""
    rng = np.random.default_rng(seed)
    base = COLOURS[classes][:, None, None, :].astype(np.int64)
    noisy = base + rng.normal(0, 40, size=(len(classes), size, size, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_features_by_hand():
    img = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    img[0, :2] = 255  # top half white, bottom half black
    hist = colour_histograms(img, bins=2)
    assert hist.shape == (1, 8) and hist[0, 0] == 0.5 and hist[0, 7] == 0.5
    thumb = thumbnails(img, 2).reshape(2, 2, 3)
    np.testing.assert_allclose(thumb[:, :, 0], [[1, 1], [0, 0]])
    odd = np.zeros((2, 5, 5, 3), dtype=np.uint8)  # not divisible: the PIL path
    assert thumbnails(odd, 2).shape == (2, 12)


def test_prior_outputs_training_frequencies(space):
    y = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 1]])
    model = PriorBaseline().fit(None, y, space, task="multilabel")
    scores = model.predict_scores(None, n=3)
    np.testing.assert_array_equal(scores, np.tile([0.75, 0.5, 0.0, 0.25], (3, 1)))
    assert not model.uses_images
    single = PriorBaseline().fit(None, np.array([0, 0, 2, 3]), space, task="singlelabel")
    np.testing.assert_array_equal(single.predict_scores(np.zeros((2, 8, 8, 3), np.uint8))[0],
                                  [0.5, 0, 0.25, 0.25])  # fmt: skip


def test_prior_macro_auroc_is_exactly_half_on_long_tail(space):
    rng = np.random.default_rng(0)
    y = (rng.random((300, 4)) < [0.6, 0.2, 0.05, 0.02]).astype(int)
    y[:4] = np.eye(4, dtype=int)  # every label seen
    scores = PriorBaseline().fit(None, y[:200], space).predict_scores(None, n=100)
    assert hm.auroc(y[200:], scores, "macro") == 0.5
    assert hm.auroc(y[200:], scores, "micro") > 0.75


def test_majority_is_one_hot_and_singlelabel_only(space):
    model = MajorityBaseline().fit(None, np.array([2, 1, 2, 0]), space, task="singlelabel")
    np.testing.assert_array_equal(model.predict_scores(None, n=2), [[0, 0, 1, 0]] * 2)
    with pytest.raises(ConfigError, match="singlelabel"):
        MajorityBaseline().fit(None, np.eye(4), space, task="multilabel")


def test_colour_histogram_learns_colour_classes(space):
    classes = np.arange(40) % 4
    images = coloured_images(classes)
    model = ColorHistogramBaseline(bins=4, thumb=8, C=1.0).fit(
        images, classes, space, task="singlelabel"
    )
    test_classes = np.arange(20) % 4
    probs = model.predict_scores(coloured_images(test_classes, seed=1))
    assert probs.shape == (20, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert hm.accuracy(test_classes, probs.argmax(axis=1)) >= 0.95


def test_colour_histogram_multilabel_keeps_constant_labels(space):
    classes = np.arange(40) % 2  # labels 2 and 3 never occur: kept at their frequency 0
    images = coloured_images(classes)
    y = np.eye(4, dtype=int)[classes]
    probs = (
        ColorHistogramBaseline(bins=4, thumb=8, C=1.0)
        .fit(images, y, space)
        .predict_scores(coloured_images(classes, seed=2))
    )
    assert (probs[:, 2:] == 0).all()
    assert hm.auroc(y[:, :2], probs[:, :2], "macro") > 0.95


def test_pca_lda_knn_learns_colour_classes(space):
    classes = np.arange(60) % 3  # class 3 is never trained: its column stays 0
    model = PcaLdaKnnBaseline(size=8, n_components=10, k=5).fit(
        coloured_images(classes), classes, space, task="singlelabel"
    )
    probs = model.predict_scores(coloured_images(classes[:30], seed=3))
    assert (probs[:, 3] == 0).all()
    assert hm.accuracy(classes[:30], probs.argmax(axis=1)) >= 0.9


def test_mistakes_raise_project_errors(space):
    with pytest.raises(DataError, match="uint8"):
        ColorHistogramBaseline().fit(np.zeros((4, 8, 8, 3)), np.zeros(4, int), space, "singlelabel")
    with pytest.raises(DataError, match="class indices"):
        PriorBaseline().fit(None, np.array([0, 4]), space, task="singlelabel")
    with pytest.raises(ConfigError, match="fit"):
        PriorBaseline().predict_scores(None, n=1)
    with pytest.raises(ConfigError, match="pca-lda-knn supports task singlelabel"):
        PcaLdaKnnBaseline().fit(coloured_images(np.zeros(4, int)), np.eye(4), space, "multilabel")
    with pytest.raises(ConfigError, match="unknown baseline"):
        get_baseline("resnet")
    assert get_baseline("prior").name == "prior"


def test_multilabel_colour_histogram_is_one_regression_per_label(space):
    """Each label's score is a binary logistic regression on that label alone (not a softmax
    over labels, not a shared fit): refit label 1 by hand and compare."""
    classes = np.arange(40) % 3
    y = np.eye(4, dtype=int)[classes]
    y[::5, 1] = 1  # label 1 co-occurs with others: rows need not sum to 1
    images = coloured_images(classes)
    model = ColorHistogramBaseline(bins=4, thumb=8, C=1.0).fit(images, y, space)
    test = coloured_images(classes[:12], seed=4)
    probs = model.predict_scores(test)
    x_train = model.scaler_.transform(model.features(images))
    by_hand = LogisticRegression(C=1.0, max_iter=500).fit(x_train, y[:, 1])
    x_test = model.scaler_.transform(model.features(test))
    np.testing.assert_allclose(probs[:, 1], by_hand.predict_proba(x_test)[:, 1], atol=1e-5)
    assert (probs[:, 3] == 0).all() and probs.sum(axis=1).max() > 1.05


def test_baselines_are_sklearn_estimators(space):
    model = ColorHistogramBaseline(bins=4, C=0.5)
    assert (
        model.get_params()["bins"] == 4 and repr(model) == "ColorHistogramBaseline(C=0.5, bins=4)"
    )
    fitted = model.fit(coloured_images(np.arange(8) % 4), np.arange(8) % 4, space, "singlelabel")
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params() and not hasattr(fresh, "model_")
    with pytest.raises(ConfigError, match="call fit"):
        fresh.predict_scores(coloured_images(np.zeros(2, int)))
