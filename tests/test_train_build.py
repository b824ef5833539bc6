"""Loss, class weights, sampling weights, optimizer and schedule choices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import tiny_data, tiny_model, tiny_taxonomy

from hiergenre.errors import ConfigError
from hiergenre.train import OptimSpec, TrainConfig, fit_data
from hiergenre.train.build import (
    CB_BETA,
    build_criterion,
    build_optimizer,
    build_scheduler,
    class_weights,
    resolved_balance,
    resolved_loss,
)
from hiergenre.train.inputs import sample_weights

CFG = TrainConfig(epochs=1, batch_size=8, device="cpu", patience=0)


def test_class_balanced_weights_match_the_effective_number_formula():
    y = np.array([0, 0, 0, 1])  # class 0: 3 albums, class 1: 1, class 2: none
    w = class_weights("softmax", y, 3, "class-balanced").numpy()
    raw = np.array([(1 - CB_BETA) / (1 - CB_BETA**3), (1 - CB_BETA) / (1 - CB_BETA**1)])
    expected = raw / raw.mean()
    np.testing.assert_allclose(w[:2], expected, rtol=1e-6)
    assert w[2] == 0.0 and w[1] > 2.9 * w[0]  # the rare class weighs ~3x


def test_pos_weight_is_negatives_over_positives_clipped():
    y = np.array([[1, 0], [0, 0], [0, 0], [1, 1]], dtype=np.float32)
    np.testing.assert_allclose(class_weights("sigmoid", y, 2, "pos-weight").numpy(), [1.0, 3.0])
    assert class_weights("sigmoid", y, 2, "none") is None


def test_sampler_weights_favour_rare_labels():
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(sample_weights("softmax", y, 2), [1 / 3, 1 / 3, 1 / 3, 1.0])
    multi = np.array([[1, 0], [1, 1], [0, 0]], dtype=np.float32)
    np.testing.assert_allclose(sample_weights("sigmoid", multi, 2), [0.5, 0.75, 0.5])


def test_auto_choices_and_mismatched_loss():
    assert resolved_balance(CFG, "softmax") == "class-balanced"
    assert resolved_balance(CFG, "sigmoid") == "none"
    assert resolved_loss(CFG, "hierarchical") == "bce"
    with pytest.raises(ConfigError, match="does not fit a sigmoid model"):
        resolved_loss(dataclasses.replace(CFG, loss="conditional"), "sigmoid")


def test_class_weighted_ce_equals_torch_reference():
    model = tiny_model(tiny_taxonomy(), "softmax")
    y = np.array([0, 0, 0, 1, 2, 2])
    crit = build_criterion(model, CFG, y, torch.device("cpu"))
    logits, target = torch.randn(6, 3), torch.as_tensor(y)
    w = class_weights("softmax", y, 3, "class-balanced")
    torch.testing.assert_close(
        crit(logits, target), torch.nn.functional.cross_entropy(logits, target, weight=w)
    )


SGD_STEP = OptimSpec(optimizer="sgd", schedule="step")


def trained_weights(tmp_path, output: str, changes: dict) -> tuple[object, torch.Tensor]:
    """One epoch of the tiny model with `changes` to CFG: (result, all parameters as one vector)."""
    model = tiny_model(tiny_taxonomy(), output)
    run_dir = tmp_path / "-".join(f"{k}={v}" for k, v in changes.items())[:80]
    result = fit_data(model, tiny_data(model), dataclasses.replace(CFG, **changes), run_dir)
    return result, torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize(
    ("output", "changes", "reference"),
    [
        ("hierarchical", {"loss": "conditional"}, {"loss": "bce"}),
        ("hierarchical", {"loss": "mcloss"}, {"loss": "bce"}),
        ("hierarchical", {"loss": "bce"}, {"loss": "conditional"}),
        ("softmax", {"soft_labels": 2.0}, {"soft_labels": 0.0}),
        ("softmax", {"balance": "sampler"}, {"balance": "none"}),
        ("softmax", {"balance": "class-balanced"}, {"balance": "none"}),
        ("sigmoid", {"balance": "pos-weight"}, {"balance": "none"}),
        ("sigmoid", {"balance": "class-balanced"}, {"balance": "none"}),
        ("sigmoid", {"optim": SGD_STEP}, {"optim": OptimSpec()}),
    ],
)
def test_every_loss_and_balance_mode_trains_and_matters(tmp_path, output, changes, reference):
    """Each option trains to a finite dev metric AND changes what is learned: an option that is
    parsed but never reaches the loss, sampler or optimizer leaves the reference's weights."""
    result, weights = trained_weights(tmp_path / "a", output, changes)
    assert result.status == "completed" and np.isfinite(result.best_metric)
    _, ref_weights = trained_weights(tmp_path / "b", output, reference)
    assert not torch.allclose(weights, ref_weights, atol=1e-7, rtol=0)


def test_training_is_deterministic(tmp_path):
    """The check above is meaningful: the same options twice give the same weights."""
    _, first = trained_weights(tmp_path / "a", "sigmoid", {"balance": "pos-weight"})
    _, second = trained_weights(tmp_path / "b", "sigmoid", {"balance": "pos-weight"})
    torch.testing.assert_close(first, second, atol=0, rtol=0)


def test_optimizer_and_schedules():
    params = [torch.nn.Parameter(torch.ones(2))]
    sgd = build_optimizer(params, OptimSpec(optimizer="sgd", lr=0.1, momentum=0.9))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"]
    sched = build_scheduler(sgd, OptimSpec(schedule="step", step_size=2, gamma=0.5), epochs=10)
    lrs = []
    for _ in range(4):
        lrs.append(sgd.param_groups[0]["lr"])
        sgd.step()
        sched.step()
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05])
    adam = build_optimizer(params, OptimSpec(lr=1.0))
    cos = build_scheduler(adam, OptimSpec(schedule="cosine"), epochs=2)
    adam.step()
    cos.step()
    assert adam.param_groups[0]["lr"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="no trainable parameter"):
        build_optimizer([torch.nn.Parameter(torch.ones(1), requires_grad=False)], OptimSpec())
