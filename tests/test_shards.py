"""Sharded runs on torchrun ranks: feature extraction and `predict` split the covers into
contiguous slices, merge them in order, reuse finished shards; two gloo processes on the CPU
give what one process gives. Also the float16 feature cache."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from helpers import covers_dataset, tiny_model

from hiergenre.errors import ConfigError
from hiergenre.runtime import shard_slice
from hiergenre.taxonomy import Taxonomy

PARENTS = {
    "Rock": "Music", "Jazz": "Music", "Metal": "Rock", "Punk": "Rock",
    "Bebop": "Jazz", "Swing": "Jazz",
}  # fmt: skip
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def test_shard_slices_cover_every_item_once_in_order():
    for n, world in ((5, 2), (7, 3), (2, 4), (0, 2), (2000, 2)):
        parts = [list(range(n))[shard_slice(n, r, world)] for r in range(world)]
        assert [i for p in parts for i in p] == list(range(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard_slice(5, 0, 2) == slice(0, 2) and shard_slice(5, 1, 2) == slice(2, 5)
    # aligned to a batch size: every part but the last holds whole batches
    assert [shard_slice(10, r, 2, align=4) for r in (0, 1)] == [slice(0, 4), slice(4, 10)]
    assert [shard_slice(3, r, 2, align=4) for r in (0, 1)] == [slice(0, 0), slice(0, 3)]


def _store(tmp_path):
    from hiergenre.data import ImageStore, load_dataset

    root = tmp_path / "covers" if (tmp_path / "covers").is_dir() else covers_dataset(tmp_path, 140)
    dataset = load_dataset(root, Taxonomy.from_parents(PARENTS))
    return ImageStore.open_or_build(dataset, 32)


def _features(store):
    from hiergenre.featcache import store_features
    from hiergenre.inference import Preprocess

    model = tiny_model(Taxonomy.from_parents(PARENTS), dropout=0.0, seed=3).freeze_encoder()
    return store_features(model, Preprocess(32), store)


def test_the_cache_is_memory_mapped_and_float16_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    store = _store(tmp_path)
    full, rows = _features(store)
    assert isinstance(full, np.memmap) and full.dtype == np.float32 and len(full) == len(rows)
    monkeypatch.setenv("HIERGENRE_FEATURE_PRECISION", "float16")
    half, _ = _features(store)
    assert half.dtype == np.float16 and half.nbytes * 2 == full.nbytes
    np.testing.assert_allclose(half, full, rtol=2e-3, atol=1e-4)  # float16 rounding only
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == 2
    monkeypatch.setenv("HIERGENRE_FEATURE_PRECISION", "float8")
    with pytest.raises(ConfigError, match="float32 or float16"):
        _features(store)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _feature_worker(rank: int, world: int, port: int, tmp: str, cache: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), HIERGENRE_CACHE=cache)  # fmt: skip
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    from pathlib import Path

    feats, _ = _features(_store(Path(tmp)))
    np.save(Path(tmp) / f"rank{rank}.npy", np.asarray(feats))
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_extract_the_features_of_one_process_and_reuse_a_finished_shard(tmp_path):
    import shutil

    cache = tmp_path / "cache"
    with pytest.MonkeyPatch.context() as mp_env:
        mp_env.setenv("HIERGENRE_CACHE", str(cache))  # the ranks open this image store
        single, rows = _features(_store(tmp_path))
        single = np.array(single)
    shutil.rmtree(cache / "features")
    mp.spawn(_feature_worker, args=(2, _free_port(), str(tmp_path), str(cache)), nprocs=2)
    for rank in (0, 1):  # every rank holds all the features, in row order
        np.testing.assert_array_equal(np.load(tmp_path / f"rank{rank}.npy"), single)
    (merged,) = (cache / "features").glob("*.npy")  # the shards are gone once merged
    # a job stopped after rank 1 finished: its shard is reused, rank 0's slice is computed
    from hiergenre.runtime import batch_for

    half = shard_slice(len(rows), 0, 2, align=batch_for(32)).stop  # rank 0: whole batches
    assert 0 < half < len(rows)
    done = np.full((len(rows) - half, single.shape[1]), 7.0, np.float32)
    np.save(merged.with_name(f"{merged.stem}-part-1-of-2.npy"), done)
    merged.unlink()
    mp.spawn(_feature_worker, args=(2, _free_port(), str(tmp_path), str(cache)), nprocs=2)
    again = np.load(tmp_path / "rank0.npy")
    np.testing.assert_array_equal(again[:half], single[:half])
    assert (again[half:] == 7.0).all()


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    from hiergenre.data import generate_synthetic
    from hiergenre.taxonomy import load_taxonomy
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    root = tmp_path_factory.mktemp("shards")
    generate_synthetic(root / "data", n=24, size=32, seed=4, taxonomy=load_taxonomy(), workers=1)
    with pytest.MonkeyPatch.context() as mp_env:
        mp_env.setenv("HIERGENRE_CACHE", str(root / "cache"))
        config = TrainConfig(
            model=ModelSpec("tiny", "all"),
            epochs=1,
            batch_size=8,
            device="cpu",
            data=DataSpec(path=str(root / "data"), image_size=32, num_workers=0),
        )
        train_from_config(config, root / "run")
    covers = root / "covers"
    covers.mkdir()
    for i, image in enumerate(sorted((root / "data" / "images").glob("*.jpg"))):
        (covers / image.name).symlink_to(image)
        if i == 10:  # one broken cover: a skipped row in the middle of the merged file
            (covers / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def _predict(root, out, *launcher):
    """`hiergenre predict` in a subprocess; `--` keeps torchrun from reading `--run` as its own
    `--run-path` (the form the README shows)."""
    env = {**os.environ, "PYTHONPATH": SRC, "HIERGENRE_CACHE": str(root / "cache"),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    sep = ["--"] if "torch.distributed.run" in launcher else []
    cmd = [
        *launcher,
        "-m",
        "hiergenre",
        *sep,
        "predict",
        str(root / "covers"),
        "--run",
        str(root / "run"),
        "--out",
        str(out),
        "--quiet",
        "--device",
        "cpu",
        "--batch-size",
        "4",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.slow
def test_predict_on_a_two_rank_torchrun_writes_the_single_process_csv(toy_run, tmp_path):
    one = tmp_path / "one.csv"
    _predict(toy_run, one, sys.executable)
    two = tmp_path / "two.csv"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                "--master-port", str(_free_port())]  # fmt: skip
    done = _predict(toy_run, two, *torchrun)
    assert two.read_bytes() == one.read_bytes()
    rows = list(csv.DictReader(one.read_text().splitlines()))
    assert len(rows) == 25 and [r["status"] for r in rows].count("skipped") == 1
    assert done.stderr.count("tagged 24 of 25 covers") == 1  # rank 0 alone reports
    assert not list(tmp_path.glob(".two.csv.shards-*"))  # the parts are cleaned up
