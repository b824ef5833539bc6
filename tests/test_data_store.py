"""ImageStore build / reopen / corruption checks, CoverDataset and the transform presets."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from hiergenre.data import CoverDataset, ImageStore, eval_transform, train_transform
from hiergenre.data import store as store_mod
from hiergenre.data.images import load_square
from hiergenre.data.manifest import Dataset, manifest_frame
from hiergenre.errors import DataError


def make_dataset(root, n=8, broken=(3,)) -> Dataset:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        name = f"c{i}.jpg"
        if i in broken:
            (root / name).write_bytes(b"not a jpeg")
        else:
            arr = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / name, quality=90)
        rows.append({"album_id": f"id{i}", "image": name, "labels": ["Rock"], "group": "",
                     "source": "test"})  # fmt: skip
    return Dataset(root, manifest_frame(rows), {})


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.delenv("HIERGENRE_CACHE", raising=False)


def test_build_matches_decoding_and_records_failures(tmp_path):
    ds = make_dataset(tmp_path)
    calls = []
    store = ImageStore.open_or_build(ds, 16, progress=lambda d, t: calls.append((d, t)))
    assert store.images.shape == (8, 16, 16, 3) and store.images.dtype == np.uint8
    assert store.ok.tolist() == [i != 3 for i in range(8)]
    assert store.failures == {"id3": "not-an-image"}
    assert calls[-1] == (8, 8)
    assert np.array_equal(store.images[0], load_square(tmp_path / "c0.jpg", 16))
    assert not store.images[3].any()
    assert store.path.parent == tmp_path / ".cache"
    assert store.usable(np.arange(8)).tolist() == [0, 1, 2, 4, 5, 6, 7]


def test_reopen_does_not_rebuild(tmp_path, monkeypatch):
    ds = make_dataset(tmp_path)
    first = ImageStore.open_or_build(ds, 16)
    monkeypatch.setattr(store_mod, "_build", lambda *a, **k: pytest.fail("rebuilt"))
    again = ImageStore.open_or_build(ds, 16)
    assert np.array_equal(first.images, again.images)


def test_corrupt_or_truncated_store_is_rebuilt(tmp_path, caplog):
    ds = make_dataset(tmp_path)
    store = ImageStore.open_or_build(ds, 16)
    good = np.array(store.images)
    path = store.path
    del store
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # flip one pixel byte
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        fixed = ImageStore.open_or_build(ds, 16)
    assert "checksum" in caplog.text and np.array_equal(fixed.images, good)
    del fixed
    path.write_bytes(path.read_bytes()[:1000])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = ImageStore.open_or_build(ds, 16)
    assert "rebuilding" in caplog.text and np.array_equal(again.images, good)


def test_size_and_manifest_key_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    ds = make_dataset(tmp_path)
    a = ImageStore.open_or_build(ds, 16)
    b = ImageStore.open_or_build(ds, 8)
    assert a.path != b.path and a.path.parent == tmp_path / "cache" / "stores"
    changed = Dataset(tmp_path, ds.manifest.iloc[:5].reset_index(drop=True), {})
    c = ImageStore.open_or_build(changed, 16)
    assert len(c) == 5 and c.path != a.path


def test_parallel_build_equals_sequential(tmp_path):
    ds = make_dataset(tmp_path, n=300, broken=(7, 200))
    seq = ImageStore.open_or_build(ds, 8, cache_dir=tmp_path / "s", workers=1)
    par = ImageStore.open_or_build(ds, 8, cache_dir=tmp_path / "p", workers=2)
    assert np.array_equal(seq.images, par.images) and seq.failures == par.failures


def test_cover_dataset_drops_failed_rows_and_yields_tensors(tmp_path):
    ds = make_dataset(tmp_path)
    store = ImageStore.open_or_build(ds, 16)
    rows = np.array([0, 3, 5])
    targets = np.eye(3, dtype=np.float32)
    data = CoverDataset(store, rows, targets)
    assert len(data) == 2 and data.rows.tolist() == [0, 5]
    x, y = data[1]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    expected = torch.from_numpy(np.array(store.images[5])).permute(2, 0, 1).float() / 255
    assert torch.allclose(x, expected)
    assert y.tolist() == [0.0, 0.0, 1.0]
    _, cls = CoverDataset(store, rows, np.array([4, 1, 2]))[0]
    assert cls.dtype == torch.int64 and int(cls) == 4
    with pytest.raises(DataError):
        CoverDataset(store, rows, targets[:2])
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=2)))
    assert batch[0].shape == (2, 3, 16, 16)


def test_transforms():
    x = torch.rand(3, 8, 8)
    flipped = train_transform(flip=1.0, brightness=0, saturation=0)(x)
    assert torch.equal(flipped, x.flip(-1))
    assert train_transform(size=4)(x).shape == (3, 4, 4)
    assert torch.equal(eval_transform()(x), x)
    assert eval_transform(size=4)(x).shape == (3, 4, 4)
