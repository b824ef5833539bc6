"""DDP: the epoch sampler splits global batches across ranks; 2 gloo processes match 1 process."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from helpers import tiny_data, tiny_model, tiny_taxonomy

from hiergenre.errors import ConfigError
from hiergenre.train import OptimSpec, TrainConfig, fit_data, load_checkpoint
from hiergenre.train.distributed import DistContext, EpochSampler, cleanup, epoch_order

CFG = TrainConfig(epochs=3, batch_size=8, device="cpu", optim=OptimSpec(lr=1e-2), patience=0)


def test_ranks_take_strided_shares_of_each_global_batch():
    one = list(EpochSampler(20, 8, seed=3))
    assert len(one) == 16 and sorted(set(one)) == sorted(one)  # the partial batch is dropped
    r0 = list(EpochSampler(20, 8, seed=3, ctx=DistContext(0, 2)))
    r1 = list(EpochSampler(20, 8, seed=3, ctx=DistContext(1, 2)))
    assert r0 == one[0:8:2] + one[8:16:2] and r1 == one[1:8:2] + one[9:16:2]


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert np.array_equal(epoch_order(10, 1, 2), epoch_order(10, 1, 2))
    assert not np.array_equal(epoch_order(10, 1, 2), epoch_order(10, 1, 3))
    weights = np.array([0.0, 0.0, 1.0])
    assert set(epoch_order(3, 0, 1, weights).tolist()) == {2}
    s = EpochSampler(20, 8, seed=3)
    s.set_epoch(2)
    assert list(s) != list(EpochSampler(20, 8, seed=3))


def test_batch_must_split_evenly_across_ranks():
    with pytest.raises(ConfigError, match="multiple of the 2 processes"):
        EpochSampler(20, 7, seed=0, ctx=DistContext(0, 2))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, run_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    model = tiny_model(tiny_taxonomy(), dropout=0.0, seed=1)
    fit_data(model, tiny_data(model), CFG, run_dir)
    cleanup(DistContext(rank, world))


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    model = tiny_model(tiny_taxonomy(), dropout=0.0, seed=1)
    single = fit_data(model, tiny_data(model), CFG, tmp_path / "one")
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "two")), nprocs=2, join=True)

    two = load_checkpoint(tmp_path / "two" / "last")
    assert two.meta["epoch"] == 3
    for key, value in model.state_dict().items():
        torch.testing.assert_close(two.model_state[key], value, atol=1e-5, rtol=1e-4)
    import json

    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["dev"]["auprc_macro"] == pytest.approx(single.dev["auprc_macro"], abs=1e-6)
