"""K folds: test parts partition the albums, stratified, artists and duplicates kept whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hiergenre.benchmark.folds import has_groups, make_folds
from hiergenre.data import Dataset
from hiergenre.data.manifest import manifest_frame
from hiergenre.errors import ConfigError, DataError
from hiergenre.taxonomy import Taxonomy

GENRES = ("Rock", "Pop", "Jazz", "Folk")


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    parents = {g: "Music" for g in GENRES}
    parents.update({f"{g} sub": g for g in GENRES})
    return Taxonomy.from_parents(parents)


def dataset(n: int, artists: int = 0, seed: int = 0, duplicates=()) -> Dataset:
    """Single-genre albums with unequal genre shares; every third one also in the sub-genre."""
    rng = np.random.default_rng(seed)
    genres = rng.choice(len(GENRES), n, p=[0.4, 0.3, 0.2, 0.1])
    rows = []
    for i, g in enumerate(genres):
        label = GENRES[g] + (" sub" if i % 3 == 0 else "")
        group = f"artist{rng.integers(artists)}" if artists else ""
        rows.append({"album_id": f"a{i:04d}", "image": f"{i}.jpg", "labels": [label],
                     "group": group, "source": "test"})  # fmt: skip
    report = {"duplicates": {"groups": [{"kept": list(d)} for d in duplicates]}}
    return Dataset(Path("/nonexistent"), manifest_frame(rows), report)


def test_test_parts_partition_the_albums_and_parts_are_disjoint(tax):
    ds = dataset(500)
    folds = make_folds(ds, tax, 5, seed=1)
    tests = [set(f.test) for f in folds]
    assert set().union(*tests) == set(ds.album_ids)
    assert sum(len(t) for t in tests) == 500
    for f in folds:
        parts = [set(f.train), set(f.dev), set(f.test)]
        assert sum(map(len, parts)) == 500 and len(set().union(*parts)) == 500
        assert abs(len(f.test) - 100) <= 3
        assert abs(len(f.dev) - 50) <= 5  # about a tenth of all albums
        assert not f.group_aware
    assert [f.mode for f in folds][:2] == ["fold-1-of-5", "fold-2-of-5"]
    assert make_folds(ds, tax, 5, seed=1) == folds


def test_each_test_fold_keeps_the_genre_shares(tax):
    ds = dataset(1000, seed=2)
    totals = Counter(labels[0].split()[0] for labels in ds.label_sets)
    pos = {a: i for i, a in enumerate(ds.album_ids)}
    for f in make_folds(ds, tax, 4, seed=0):
        got = Counter(ds.label_sets[pos[a]][0].split()[0] for a in f.test)
        for genre, total in totals.items():
            assert abs(got[genre] - total / 4) <= 2, (genre, got[genre], total / 4)


def test_artists_never_cross_parts_when_the_dataset_has_groups(tax):
    ds = dataset(600, artists=80, seed=3)
    assert has_groups(ds) and not has_groups(dataset(50))
    artist = dict(zip(ds.album_ids, ds.groups, strict=True))
    for f in make_folds(ds, tax, 5, seed=0):
        assert f.group_aware
        seen = [{artist[a] for a in part} for part in (f.train, f.dev, f.test)]
        assert not (seen[0] & seen[2]) and not (seen[1] & seen[2]) and not (seen[0] & seen[1])


def test_duplicate_covers_share_a_part(tax):
    dups = [("a0001", "a0002"), ("a0010", "a0200", "a0201")]
    ds = dataset(300, seed=4, duplicates=dups)
    for f in make_folds(ds, tax, 3, seed=5):
        for group in dups:
            where = {next(p for p in ("train", "dev", "test") if a in f.part(p)) for a in group}
            assert len(where) == 1


def test_bad_fold_counts_are_refused(tax):
    with pytest.raises(ConfigError, match="`folds`"):
        make_folds(dataset(100), tax, 1)
    with pytest.raises(DataError, match="at least 15 albums"):
        make_folds(dataset(12), tax, 5)


def test_a_two_fold_run_reports_mean_and_sd_and_says_what_the_counts_are(tmp_path, monkeypatch):
    """`--folds 2` with the image-free baselines: per-fold runs, their mean and sd, and a
    dataset line that does not call the folds' pooled test parts one split's test part."""
    import json

    from hiergenre.benchmark import BenchmarkConfig
    from hiergenre.benchmark.multifold import run_folds
    from hiergenre.data import generate_synthetic
    from hiergenre.taxonomy import load_taxonomy

    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    generate_synthetic(tmp_path / "data", n=200, size=32, seed=3, taxonomy=load_taxonomy(),
                       workers=1)  # fmt: skip
    config = BenchmarkConfig(data=str(tmp_path / "data"), models=("prior", "majority"),
                             out=str(tmp_path / "out"), folds=2, plots=False)  # fmt: skip
    payload = run_folds(config)
    folds = [json.loads((tmp_path / "out" / f"fold-{i}" / "results.json").read_text())
             for i in (1, 2)]  # fmt: skip
    setting = payload["setting"]
    assert setting["test_albums"] == sum(f["setting"]["test_albums"] for f in folds) == 200
    majority = next(m for m in payload["models"] if m["name"] == "majority")
    accs = [next(m for m in f["models"] if m["name"] == "majority")["metrics"]["accuracy"]
            for f in folds]  # fmt: skip
    assert majority["metrics"]["accuracy"] == pytest.approx(sum(accs) / 2)
    assert majority["metrics_sd"]["accuracy"] == pytest.approx(abs(accs[0] - accs[1]) / 2)
    speeds = [next(m for m in f["models"] if m["name"] == "majority")["images_per_s"]
              for f in folds]  # fmt: skip
    assert majority["images_per_s"] == pytest.approx(sum(speeds) / 2)  # every fold, not fold 1's
    md = (tmp_path / "out" / "results.md").read_text()
    assert f"2 folds, each training on about {setting['train_albums']} albums" in md
    assert "their test parts together hold 200" in md and "train / 200 test" not in md
