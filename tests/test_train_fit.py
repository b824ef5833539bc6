"""fit(): run directory, exact resume, NaN stop, early stopping, interrupts."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import tiny_data, tiny_model, tiny_taxonomy

from hiergenre.errors import CheckpointError
from hiergenre.train import OptimSpec, TrainConfig, fit_data, load_checkpoint

CFG = TrainConfig(epochs=3, batch_size=8, device="cpu", optim=OptimSpec(lr=1e-2), patience=0)
VOLATILE = ("seconds", "images_per_s")


def _lines(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in rows]


def _stop_after(epoch):
    def progress(event, info):
        if event == "epoch" and info["epoch"] == epoch:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "hierarchical"])
def test_resume_equals_a_straight_run(tmp_path, output):
    tax = tiny_taxonomy()
    straight = tiny_model(tax, output, seed=1)
    fit_data(straight, tiny_data(straight), CFG, tmp_path / "a")

    first = tiny_model(tax, output, seed=1)
    cut = fit_data(first, tiny_data(first), CFG, tmp_path / "b", _stop_after(1))
    assert cut.status == "interrupted" and cut.epochs_run == 1
    assert len(_lines(tmp_path / "b")) == 1
    fresh = tiny_model(tax, output, seed=99)  # another init: everything must come from `last`
    done = fit_data(fresh, tiny_data(fresh), CFG, tmp_path / "b", resume=True)

    assert done.status == "completed" and done.epochs_run == 3
    assert _lines(tmp_path / "a") == _lines(tmp_path / "b")
    for key, value in straight.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    summary_a = json.loads((tmp_path / "a" / "summary.json").read_text())
    summary_b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary_a["test"] == summary_b["test"] and summary_a["dev"] == summary_b["dev"]


def test_run_directory_contents(tmp_path):
    model = tiny_model(tiny_taxonomy())
    result = fit_data(model, tiny_data(model), CFG, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "taxonomy.tsv", "metrics.jsonl", "summary.json", "best.safetensors",
            "best.json", "last.safetensors", "last.json"} <= names  # fmt: skip
    assert len(_lines(tmp_path)) == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["metric"] == "auprc_macro"
    assert summary["best_metric"] == pytest.approx(result.best_metric)
    assert summary["params"] == sum(p.numel() for p in model.parameters())
    assert set(summary["test"]) >= {"auprc_macro", "hF", "accuracy"}
    assert json.loads((tmp_path / "config.json").read_text())["optim"]["lr"] == 1e-2
    last = load_checkpoint(tmp_path / "last")
    assert last.meta["epoch"] == 3 and last.meta["label_order"] == list(model.label_space.nodes)


class Exploding(torch.nn.Module):
    """Wraps a model; emits NaN logits in training once `armed` is set."""

    def __init__(self, model):
        super().__init__()
        self.inner = model
        self.label_space, self.output, self.armed = model.label_space, model.output, False

    def forward(self, x):
        out = self.inner(x)
        return out * float("nan") if self.armed and self.training else out

    def node_probs(self, logits):
        return self.inner.node_probs(logits)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    model = Exploding(tiny_model(tiny_taxonomy()))

    def arm(event, info):
        if event == "epoch" and info["epoch"] == 1:
            model.armed = True

    result = fit_data(model, tiny_data(model.inner), CFG, tmp_path, arm)
    assert result.status == "diverged" and "non-finite" in result.message
    assert result.epochs_run == 1 and len(_lines(tmp_path)) == 1
    last = load_checkpoint(tmp_path / "last")
    assert last.meta["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in last.model_state.values())
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "diverged"


def test_huge_learning_rate_diverges(tmp_path):
    model = tiny_model(tiny_taxonomy())
    cfg = TrainConfig(epochs=2, batch_size=8, device="cpu", log_every=1,
                      optim=OptimSpec(optimizer="sgd", lr=1e30))  # fmt: skip
    assert fit_data(model, tiny_data(model), cfg, tmp_path).status == "diverged"


def test_early_stopping_counts_epochs_without_improvement(tmp_path):
    model = tiny_model(tiny_taxonomy())
    cfg = TrainConfig(epochs=30, batch_size=8, device="cpu", patience=2,
                      optim=OptimSpec(lr=1e-9, schedule="none"))  # fmt: skip
    result = fit_data(model, tiny_data(model), cfg, tmp_path)
    assert result.status == "early_stopped"
    lines = _lines(tmp_path)
    assert len(lines) < 30 and lines[-1]["epoch"] - lines[-1]["best_epoch"] == 2


def test_resume_refuses_a_run_of_another_model(tmp_path):
    tax = tiny_taxonomy()
    model = tiny_model(tax, "sigmoid")
    fit_data(model, tiny_data(model), CFG, tmp_path, _stop_after(1))
    other = tiny_model(tax, "softmax")
    with pytest.raises(CheckpointError, match="label space"):
        fit_data(other, tiny_data(other), CFG, tmp_path, resume=True)
