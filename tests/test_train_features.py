"""Frozen-encoder fast path: features of every cover computed once per encoder, cached and
reused by other splits and heads; heads fit on them."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import covers_dataset, tiny_model

from hiergenre.data import load_dataset, make_split
from hiergenre.featcache import encoder_is_frozen
from hiergenre.taxonomy import Taxonomy
from hiergenre.train import OptimSpec, TrainConfig, fit, load_checkpoint

PARENTS = {
    "Rock": "Music", "Jazz": "Music", "Metal": "Rock", "Punk": "Rock",
    "Bebop": "Jazz", "Swing": "Jazz",
}  # fmt: skip
CFG = TrainConfig(epochs=2, batch_size=8, device="cpu", optim=OptimSpec(lr=1e-2),
                  data=TrainConfig().data.__class__(image_size=32))  # fmt: skip


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    tax = Taxonomy.from_parents(PARENTS)
    dataset = load_dataset(covers_dataset(tmp_path), tax)
    return tax, dataset, make_split(dataset, "multilabel", taxonomy=tax)


def test_frozen_encoder_trains_only_the_head_on_cached_features(tmp_path, setup):
    tax, dataset, split = setup
    model = tiny_model(tax).freeze_encoder()
    assert encoder_is_frozen(model)
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head_before = model.head.weight.detach().clone()
    events = []
    fit(model, dataset, split, CFG, tmp_path / "a", lambda e, i: events.append((e, i)))
    names = [e for e, _ in events]
    assert names.count("features") == 1  # every cover at once, parts index into them
    assert events[names.index("start")][1]["solver"] == "lbfgs"  # a linear probe: its solver's
    assert "probe" in names and "step" not in names  # iterations, no epoch's steps
    cache = sorted((tmp_path / "cache" / "features").glob("*.npy"))
    assert len(cache) == 1
    stamps = [p.stat().st_mtime_ns for p in cache]
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key])
    assert not torch.equal(model.head.weight, head_before)

    again = tiny_model(tax).freeze_encoder()  # same init: same encoder weights, same cache key
    fit(again, dataset, split, CFG, tmp_path / "b")
    assert [p.stat().st_mtime_ns for p in cache] == stamps  # reused, not rewritten
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    other = make_split(dataset, "multilabel", seed=7, taxonomy=tax)  # another fold, same covers
    assert other != split
    fit(tiny_model(tax).freeze_encoder(), dataset, other, CFG, tmp_path / "c")
    assert sorted((tmp_path / "cache" / "features").glob("*.npy")) == cache
    assert [p.stat().st_mtime_ns for p in cache] == stamps
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["frozen_encoder_fast_path"] and summary["trainable_params"] < summary["params"]
    ckpt = load_checkpoint(tmp_path / "a" / "best")
    assert any(k.startswith("encoder.") for k in ckpt.model_state)  # the whole model is saved


def test_features_equal_the_encoder_output(tmp_path, setup):
    from hiergenre.data import ImageStore
    from hiergenre.inference import Preprocess
    from hiergenre.train.features import compute_features
    from hiergenre.train.inputs import image_data

    tax, dataset, split = setup
    model = tiny_model(tax).freeze_encoder()
    data, store, rows = image_data(model, dataset, split, Preprocess(32), augment=False)
    feats = compute_features(model, data.datasets["dev"], torch.device("cpu"))
    x = torch.stack([data.datasets["dev"][i][0] for i in range(len(rows["dev"]))])
    torch.testing.assert_close(feats, model.encoder.eval()(x))
    assert isinstance(store, ImageStore)


def _metrics(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["dev"] for x in lines]


def test_a_refitted_probe_scores_dev_with_its_train_only_fit(tmp_path, setup):
    """After the refit on train + dev, dev albums are training data: the run's dev numbers (each
    epoch's and the summary's, two code paths) come from the train-only fit, not the saved head."""
    from hiergenre.inference import predict_rows
    from hiergenre.train.evaluation import score
    from hiergenre.train.inputs import image_data

    tax, dataset, split = setup
    model = tiny_model(tax).freeze_encoder()
    fit(model, dataset, split, CFG, tmp_path / "a")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["solver"] == "lbfgs" and summary["head_fit"]["refit_on_dev"]
    metric = summary["metric"]
    assert summary["dev"][metric] == pytest.approx(summary["best_metric"], abs=1e-9)
    assert _metrics(tmp_path / "a")[0][metric] == pytest.approx(summary["best_metric"], abs=1e-9)
    # the saved (refitted) head on the same dev albums scores otherwise
    saved = load_checkpoint(tmp_path / "a" / "best")
    model.load_state_dict(saved.model_state)
    preprocess = model_preprocess(tmp_path / "a")
    data, store, rows = image_data(model, dataset, split, preprocess, False)
    nodes, _, _ = predict_rows(model, data.images.preprocess, store, rows["dev"])
    in_sample = score(model, data, "dev", nodes)
    assert in_sample["brier"] != pytest.approx(summary["dev"]["brier"], abs=1e-6)


def model_preprocess(run_dir):
    from hiergenre.inference import Preprocess

    return Preprocess.from_dict(json.loads((run_dir / "run.json").read_text())["preprocess"])
