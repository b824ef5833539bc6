"""The synthetic cover set: real JPEGs, same bytes per seed, long-tailed labels, a real signal."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from hiergenre.data import generate_synthetic
from hiergenre.data.report import label_counts
from hiergenre.data.synth import sample_albums
from hiergenre.errors import ConfigError
from hiergenre.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    """Six level-1 genres of different sizes, down to level 4."""
    parents = {}
    for g, width in zip("ABCDEF", (6, 4, 3, 2, 2, 1), strict=True):
        parents[g] = "Music"
        for k in range(width):
            parents[f"{g}{k}"] = g
            for j in range(2):
                parents[f"{g}{k}.{j}"] = f"{g}{k}"
                parents[f"{g}{k}.{j}.x"] = f"{g}{k}.{j}"
    return Taxonomy.from_parents(parents)


def tree_hash(root) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_writes_real_jpegs_and_a_valid_manifest(tmp_path, tax):
    ds = generate_synthetic(tmp_path / "s", n=40, size=32, seed=0, difficulty=0.3, taxonomy=tax)
    assert len(ds) == 40 and ds.report["albums_kept"] == 40
    with Image.open(ds.image_paths()[0]) as img:
        assert img.format == "JPEG" and img.size == (32, 32)
    for labels in ds.label_sets:  # stored like MuMu: each path's nodes with their ancestors
        assert labels and set(labels) == tax.close(labels)
    assert len(set(ds.groups)) < 40  # artists with several albums


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, tax):
    kw = dict(n=30, size=32, difficulty=0.5, taxonomy=tax)
    generate_synthetic(tmp_path / "a", seed=3, **kw)
    generate_synthetic(tmp_path / "b", seed=3, **kw)
    generate_synthetic(tmp_path / "c", seed=4, **kw)
    assert tree_hash(tmp_path / "a") == tree_hash(tmp_path / "b") != tree_hash(tmp_path / "c")


def test_worker_count_does_not_change_the_bytes(tmp_path, tax):
    kw = dict(n=140, size=16, seed=1, difficulty=0.5, taxonomy=tax)
    generate_synthetic(tmp_path / "one", workers=1, **kw)
    generate_synthetic(tmp_path / "two", workers=2, **kw)
    assert tree_hash(tmp_path / "one") == tree_hash(tmp_path / "two")


def test_bad_parameters_are_config_errors(tmp_path, tax):
    with pytest.raises(ConfigError):
        generate_synthetic(tmp_path, n=10, size=32, difficulty=1.5, taxonomy=tax)


def test_labels_are_long_tailed_on_the_shipped_taxonomy():
    tax = load_taxonomy()  # a broken shipped table fails here, it is not skipped
    albums, groups = sample_albums(tax, 3000, np.random.default_rng(0))
    sets = [sorted({x for p in paths for x in p}) for paths in albums]
    counts = label_counts(sets, tax)
    tail = counts["long_tail"]
    assert 5.0 <= counts["labels_per_album_closed"] <= 7.0  # MuMu: about 6
    assert tail["largest"] > 20 * tail["median"] and tail["gini"] > 0.5
    assert tail["genres_with_at_most_5_albums"] > 20
    assert counts["single_label_koenig12"]["share"] > 0.3
    assert np.mean([len(p) for p in albums]) > 2  # several paths per album
    assert 700 < len(set(groups)) < 1300


def _level1_features(ds, tax):
    x = np.stack([np.asarray(Image.open(p).resize((8, 8))).ravel() for p in ds.image_paths()])
    y = [tax.path(labels[0])[0] for labels in ds.label_sets]
    return x.astype(np.float32) / 255, np.array(y)


def _nearest_centroid_accuracy(x: np.ndarray, y: np.ndarray, n_train: int) -> float:
    classes = sorted(set(y[:n_train]))
    centroids = np.stack([x[:n_train][y[:n_train] == c].mean(0) for c in classes])
    dist = ((x[n_train:, None, :] - centroids[None]) ** 2).sum(-1)
    return float(np.mean(np.array(classes)[dist.argmin(1)] == y[n_train:]))


@pytest.mark.slow
def test_level1_genre_is_learnable_and_difficulty_hurts(tmp_path, tax):
    acc = {}
    for d in (0.0, 1.0):
        ds = generate_synthetic(tmp_path / f"d{d}", n=400, size=32, seed=0, difficulty=d,
                                taxonomy=tax)  # fmt: skip
        x, y = _level1_features(ds, tax)
        acc[d] = _nearest_centroid_accuracy(x, y, 300)
        majority = max(np.mean(y[300:] == c) for c in set(y))
    assert acc[0.0] > majority + 0.2
    assert acc[1.0] < acc[0.0] - 0.1
