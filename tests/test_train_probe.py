"""Linear probes: L-BFGS logistic regression on standardised features, L2 chosen on dev."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from hiergenre.errors import ConfigError
from hiergenre.train.probe import (
    ABSENT_LOGIT,
    Group,
    ProbeConfig,
    branch_groups,
    fit_probe,
    flat_groups,
)


def blobs(n: int, d: int, k: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes at random centres, then scaled and shifted (raw features are not unit)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    y = rng.integers(0, k, n)
    x = centres[y] + noise * rng.normal(size=(n, d))
    return x * rng.uniform(0.5, 20, d) + rng.normal(0, 5, d), y


def sklearn_probs(x_tr, y_tr, x_te, l2):
    """The same problem through scikit-learn: C = 1 / (l2 * n)."""
    scaler = StandardScaler().fit(x_tr)
    clf = LogisticRegression(C=1 / (l2 * len(x_tr)), max_iter=10000, tol=1e-10)
    clf.fit(scaler.transform(x_tr), y_tr)
    return clf.predict_proba(scaler.transform(x_te))


def test_softmax_probe_matches_sklearn_on_raw_features():
    x, y = blobs(500, 30, 4, noise=2.0)
    onehot = np.eye(4)[y]
    cfg = ProbeConfig(l2_grid=(3e-3,), refit=False)
    parts = {"train": x[:350], "dev": x[350:]}
    fit = fit_probe(
        parts, {"train": onehot[:350], "dev": onehot[350:]}, flat_groups(4, "softmax"), cfg
    )
    ours = softmax(x[350:] @ fit.weight.T + fit.bias, axis=1)
    ref = sklearn_probs(x[:350], y[:350], x[350:], 3e-3)
    assert np.abs(ours - ref).max() < 2e-3
    assert fit.record()["chosen_l2"] == [3e-3]


def test_l2_is_the_grid_value_with_the_lowest_dev_log_loss():
    x, y = blobs(240, 60, 3, noise=4.0, seed=1)  # few, noisy albums: regularisation matters
    onehot = np.eye(3)[y]
    grid = (1e-4, 1e-2, 1.0)
    fit = fit_probe({"train": x[:160], "dev": x[160:]},
                    {"train": onehot[:160], "dev": onehot[160:]}, flat_groups(3, "softmax"),
                    ProbeConfig(l2_grid=grid, refit=False))  # fmt: skip
    losses = []
    for l2 in grid:
        p = sklearn_probs(x[:160], y[:160], x[160:], l2)
        losses.append(-np.log(p[np.arange(80), y[160:]]).mean())
    chosen = fit.choices[0]
    assert chosen["l2"] == grid[int(np.argmin(losses))]
    assert chosen["dev_loss"][chosen["l2"]] == pytest.approx(min(losses), abs=2e-3)


def test_refit_uses_train_and_dev_at_the_chosen_strength():
    x, y = blobs(300, 10, 3, noise=1.5, seed=2)
    onehot = np.eye(3)[y]
    fit = fit_probe({"train": x[:200], "dev": x[200:]},
                    {"train": onehot[:200], "dev": onehot[200:]}, flat_groups(3, "softmax"),
                    ProbeConfig(l2_grid=(1e-2,), refit=True))  # fmt: skip
    ours = softmax(x @ fit.weight.T + fit.bias, axis=1)
    # standardised with the TRAIN part's statistics, fitted on all 300 albums
    scaler = StandardScaler().fit(x[:200])
    clf = LogisticRegression(C=1 / (1e-2 * 300), max_iter=10000, tol=1e-10)
    clf.fit(scaler.transform(x), y)
    assert np.abs(ours - clf.predict_proba(scaler.transform(x))).max() < 2e-3


def test_one_strength_is_fitted_on_train_then_refitted_on_train_and_dev(monkeypatch):
    from hiergenre.train import probe

    calls = []
    solve = probe._solve
    monkeypatch.setattr(probe, "_solve", lambda x, *a: calls.append(len(x)) or solve(x, *a))
    x, y = blobs(300, 10, 3, noise=1.5, seed=2)
    onehot = np.eye(3)[y]
    fit_probe({"train": x[:200], "dev": x[200:]}, {"train": onehot[:200], "dev": onehot[200:]},
              flat_groups(3, "softmax"), ProbeConfig(l2_grid=(1e-2,)))  # fmt: skip
    assert calls == [200, 300]  # no grid; the train-only fit scores dev, the refit is the head
    calls.clear()
    fit_probe({"train": x[:200], "dev": x[200:]}, {"train": onehot[:200], "dev": onehot[200:]},
              flat_groups(3, "softmax"), ProbeConfig(l2_grid=(1e-2, 1.0)))  # fmt: skip
    assert calls == [200, 200, 300]


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_more_features_than_albums_fits_in_their_span_to_the_same_optimum(kind):
    # 120 train + 40 dev albums, 400 features: the fit runs in the albums' 160-dim span
    x, y = blobs(200, 400, 3, noise=6.0, seed=5)
    onehot = np.eye(3)[y]
    fit = fit_probe({"train": x[:120], "dev": x[120:160]},
                    {"train": onehot[:120], "dev": onehot[120:160]}, flat_groups(3, kind),
                    ProbeConfig(l2_grid=(0.05,), refit=False, max_iter=500))  # fmt: skip
    logits = x[160:] @ fit.weight.T + fit.bias
    if kind == "softmax":
        ours, ref = softmax(logits, axis=1), sklearn_probs(x[:120], y[:120], x[160:], 0.05)
    else:
        ours, ref = expit(logits[:, 0]), sklearn_probs(x[:120], y[:120] == 0, x[160:], 0.05)[:, 1]
    assert np.abs(ours - ref).max() < 2e-3
    assert np.abs(logits).max() > 0.5  # a real fit, not the zero start


def test_sigmoid_probe_fits_each_column_and_pins_constant_ones():
    x, y = blobs(400, 8, 2, noise=1.0, seed=3)
    targets = np.stack([y == 1, y == 0, np.zeros(400, bool), np.ones(400, bool)], 1).astype(float)
    fit = fit_probe({"train": x[:300], "dev": x[300:]},
                    {"train": targets[:300], "dev": targets[300:]}, flat_groups(4, "sigmoid"),
                    ProbeConfig(l2_grid=(1e-3,), refit=False))  # fmt: skip
    p = expit(x[300:] @ fit.weight.T + fit.bias)
    ref = sklearn_probs(x[:300], (y[:300] == 1).astype(int), x[300:], 1e-3)[:, 1]
    assert np.abs(p[:, 0] - ref).max() < 2e-3
    assert ((p[:, 0] > 0.5) == (y[300:] == 1)).mean() > 0.9
    assert np.all(fit.weight[2:] == 0)
    assert fit.bias[2] == -ABSENT_LOGIT and fit.bias[3] == ABSENT_LOGIT
    assert fit.choices[0]["fitted"] == 2


def test_branch_groups_follow_the_parent_index():
    # root -> a (0), b (1); a -> c (2), d (3); d -> e (4)
    groups = branch_groups(np.array([-1, -1, 0, 0, 3]), "softmax")
    assert [(g.parent, g.columns) for g in groups] == [(-1, (0, 1)), (0, (2, 3)), (3, (4,))]


def test_a_branch_learns_only_from_albums_carrying_its_parent():
    x, y = blobs(600, 6, 5, noise=1.0, seed=4)
    # columns a, b, c, d, e with c, d, e children of a; classes 0-2 -> a>c, a>d, a>e; 3-4 -> b
    targets = np.zeros((600, 5))
    targets[:, 0] = y < 3
    targets[:, 1] = y >= 3
    for cls in range(3):
        targets[y == cls, 2 + cls] = 1
    groups = branch_groups(np.array([-1, -1, 0, 0, 0]), "softmax")
    fit = fit_probe({"train": x[:400], "dev": x[400:]},
                    {"train": targets[:400], "dev": targets[400:]}, groups,
                    ProbeConfig(l2_grid=(1e-2,), refit=False))  # fmt: skip
    under_a = np.flatnonzero(y[:400] < 3)
    scaler = StandardScaler().fit(x[:400])  # the probe standardises with ALL training albums
    clf = LogisticRegression(C=1 / (1e-2 * len(under_a)), max_iter=10000, tol=1e-10)
    clf.fit(scaler.transform(x[under_a]), y[under_a])
    ours = softmax(x[400:] @ fit.weight[2:].T + fit.bias[2:], axis=1)
    assert np.abs(ours - clf.predict_proba(scaler.transform(x[400:]))).max() < 2e-3
    assert [c["train"] for c in fit.choices] == [400, len(under_a)]


@pytest.mark.parametrize("grid", [(1e-2,), (1e-3, 1e-1, 10.0)])
def test_a_refitted_probe_keeps_its_train_only_fit_for_scoring_dev(grid):
    x, y = blobs(300, 10, 3, noise=1.5, seed=2)
    onehot = np.eye(3)[y]
    parts = {"train": x[:200], "dev": x[200:]}
    targets = {"train": onehot[:200], "dev": onehot[200:]}
    groups = flat_groups(3, "softmax")
    fit = fit_probe(parts, targets, groups, ProbeConfig(l2_grid=grid, refit=True))
    train_only = fit_probe(parts, targets, groups, ProbeConfig(l2_grid=grid, refit=False))
    assert fit.refitted and not train_only.refitted
    assert fit.record()["dev_scored_with"] == "the train-only fit at the chosen L2"
    held = fit.held_out()
    np.testing.assert_allclose(held.weight, train_only.weight, atol=1e-5)
    np.testing.assert_allclose(held.bias, train_only.bias, atol=1e-5)
    assert np.abs(fit.weight - held.weight).max() > 1e-3  # the head itself saw the dev albums
    assert np.array_equal(train_only.held_out().weight, train_only.weight)


def test_a_branch_with_few_dev_albums_takes_the_roots_strength(monkeypatch):
    from hiergenre.train import probe

    x, y = blobs(600, 6, 5, noise=1.0, seed=4)
    targets = np.zeros((600, 5))  # as above: c, d, e children of a
    targets[:, 0], targets[:, 1] = y < 3, y >= 3
    for cls in range(3):
        targets[y == cls, 2 + cls] = 1
    dev = np.r_[np.flatnonzero(y[400:] >= 3)[:40], np.flatnonzero(y[400:] < 3)[:6]] + 400
    calls = []
    solve = probe._solve
    monkeypatch.setattr(probe, "_solve", lambda x, *a: calls.append(len(x)) or solve(x, *a))
    parts = {"train": x[:400], "dev": x[dev]}
    fit = fit_probe(parts, {"train": targets[:400], "dev": targets[dev]},
                    branch_groups(np.array([-1, -1, 0, 0, 0]), "softmax"),
                    ProbeConfig(l2_grid=(1e-3, 1e-1, 10.0), patience=5))  # fmt: skip
    root, branch = fit.choices
    assert (root["dev"], branch["dev"]) == (46, 6) and branch["l2"] == root["l2"]
    assert root["dev_loss"] and not branch["dev_loss"]  # chosen on dev, and taken
    under_a = int((y[:400] < 3).sum())
    # the root: its grid, then the refit; the branch: a train-only fit, then the refit
    assert calls == [400, 400, 400, 446, under_a, under_a + 6]


def test_a_softmax_branch_with_one_present_child_gives_it_everything():
    x, _ = blobs(50, 3, 2, noise=1.0, seed=5)
    targets = np.zeros((50, 3))
    targets[:, 0] = 1
    targets[:, 1] = 1  # every album is a > b; sibling c never occurs
    groups = [Group((0,), "softmax"), Group((1, 2), "softmax", parent=0)]
    fit = fit_probe({"train": x, "dev": x}, {"train": targets, "dev": targets}, groups)
    p = softmax(x @ fit.weight[1:].T + fit.bias[1:], axis=1)
    assert np.all(p[:, 0] > 1 - 1e-6)


def test_a_grid_without_positive_strength_is_refused():
    x, y = blobs(20, 3, 2, noise=1.0)
    with pytest.raises(ConfigError, match="l2_grid"):
        fit_probe({"train": x, "dev": x}, {"train": np.eye(2)[y], "dev": np.eye(2)[y]},
                  flat_groups(2, "softmax"), ProbeConfig(l2_grid=(0.0,)))  # fmt: skip


def test_one_basis_for_every_branch_gives_each_branch_its_own_optimum(monkeypatch):
    """With more features than albums every group is fitted in the span of all the albums; a
    branch's optimum lies in the span of its own albums, so it is the same head."""
    from hiergenre.train import probe

    x, y = blobs(160, 400, 5, noise=2.0, seed=6)  # 400 features, 160 albums
    targets = np.zeros((160, 5))  # as above: c, d, e children of a
    targets[:, 0], targets[:, 1] = y < 3, y >= 3
    for cls in range(3):
        targets[y == cls, 2 + cls] = 1
    parts = {"train": x[:120], "dev": x[120:]}
    split = {"train": targets[:120], "dev": targets[120:]}
    groups = branch_groups(np.array([-1, -1, 0, 0, 0]), "softmax")
    config = ProbeConfig(l2_grid=(0.3, 3.0), max_iter=500)
    spans, real = [], probe._row_basis
    monkeypatch.setattr(probe, "_row_basis", lambda rows: spans.append(rows.shape) or real(rows))
    shared = fit_probe(parts, split, groups, config)
    assert spans == [(160, 400)]  # one basis for both groups
    monkeypatch.setattr(probe, "_row_basis", lambda rows: None)
    direct = fit_probe(parts, split, groups, config)
    assert [c["l2"] for c in shared.choices] == [c["l2"] for c in direct.choices]
    logits = [x @ f.weight.T + f.bias for f in (shared, direct)]
    np.testing.assert_allclose(
        softmax(logits[0][:, 2:], 1), softmax(logits[1][:, 2:], 1), atol=2e-3
    )
    np.testing.assert_allclose(
        softmax(logits[0][:, :2], 1), softmax(logits[1][:, :2], 1), atol=2e-3
    )


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_streamed_float16_memmapped_features_fit_the_in_memory_head(kind, tmp_path, monkeypatch):
    """The probe reads features in chunks (any float dtype, memory-mapped) and standardises each
    chunk on the fly: many small chunks of a float16 memmap give the head that one in-memory
    float32 block of the same (float16-rounded) numbers gives."""
    from hiergenre.train import probe

    x, y = blobs(300, 20, 3, noise=3.0, seed=8)
    half = (x / np.abs(x).max()).astype(np.float16)  # float16's range, as the cache stores it
    np.save(tmp_path / "f.npy", half)
    mapped = np.load(tmp_path / "f.npy", mmap_mode="r")
    onehot = np.eye(3)[y]
    targets = {"train": onehot[:200], "dev": onehot[200:]}
    config = ProbeConfig(l2_grid=(0.01, 0.1), max_iter=200)
    whole = fit_probe({"train": half[:200].astype(np.float32), "dev": half[200:]}, targets,
                      flat_groups(3, kind), config)  # fmt: skip
    seen = []
    real = probe.Rows.chunks
    monkeypatch.setattr(probe.Rows, "chunks", lambda self: (seen.append(1), *real(self))[1:])
    monkeypatch.setattr(probe, "CHUNK_BYTES", 4 * 20 * 16)  # 16 albums per chunk
    streamed = fit_probe({"train": mapped[:200], "dev": mapped[200:]}, targets,
                         flat_groups(3, kind), config)  # fmt: skip
    assert seen  # the streamed path ran
    assert [c["l2"] for c in streamed.choices] == [c["l2"] for c in whole.choices]
    np.testing.assert_allclose(streamed.weight, whole.weight, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(streamed.bias, whole.bias, rtol=1e-3, atol=1e-3)
    assert np.abs(streamed.weight).max() > 0.1  # a real fit


def test_the_probe_reports_its_l2_grid_and_every_solver_iteration():
    """`progress("probe", info)` follows the work: each strength of the grid (strongest first),
    then the refit, each L-BFGS iteration once; and listening changes nothing in the fit."""
    x, y = blobs(300, 10, 3, noise=1.5, seed=2)
    onehot = np.eye(3)[y]
    parts, targets = (
        {"train": x[:200], "dev": x[200:]},
        {"train": onehot[:200], "dev": onehot[200:]},
    )
    config = ProbeConfig(l2_grid=(1e-2, 1.0), max_iter=5)
    events = []
    fit = fit_probe(parts, targets, flat_groups(3, "softmax"), config,
                    lambda event, info: events.append((event, info)))  # fmt: skip
    assert {event for event, _ in events} == {"probe"}
    solve = [(i["stage"], i["step"], i["steps"], i["l2"]) for _, i in events]
    chosen = fit.record()["chosen_l2"][0]
    assert list(dict.fromkeys(solve)) == [("grid", 1, 2, 1.0), ("grid", 2, 2, 1e-2),
                                          ("refit", 1, 1, chosen)]  # fmt: skip
    for each in dict.fromkeys(solve):  # 5 iterations do not converge here: every one is told
        assert [i["iteration"] for s, (_, i) in zip(solve, events, strict=True) if s == each] == [
            1,
            2,
            3,
            4,
            5,
        ]
    assert {(i["group"], i["groups"], i["max_iter"]) for _, i in events} == {(1, 1, 5)}
    quiet = fit_probe(parts, targets, flat_groups(3, "softmax"), config)
    np.testing.assert_array_equal(quiet.weight, fit.weight)


def test_a_hierarchical_probe_reports_each_branch():
    """One group per branch: the root chooses on its grid, a branch with few dev albums fits at
    the root's strength (stage `fit`), each is refitted on train + dev."""
    x, y = blobs(600, 6, 5, noise=1.0, seed=4)
    targets = np.zeros((600, 5))  # c, d, e children of a (as above)
    targets[:, 0], targets[:, 1] = y < 3, y >= 3
    for cls in range(3):
        targets[y == cls, 2 + cls] = 1
    dev = np.r_[np.flatnonzero(y[400:] >= 3)[:40], np.flatnonzero(y[400:] < 3)[:6]] + 400
    events = []
    fit_probe({"train": x[:400], "dev": x[dev]}, {"train": targets[:400], "dev": targets[dev]},
              branch_groups(np.array([-1, -1, 0, 0, 0]), "softmax"),
              ProbeConfig(l2_grid=(1e-3, 1e-1, 10.0), patience=5),
              lambda event, info: events.append(info))  # fmt: skip
    stages = list(dict.fromkeys((i["group"], i["groups"], i["stage"]) for i in events))
    assert stages == [(1, 2, "grid"), (1, 2, "refit"), (2, 2, "fit"), (2, 2, "refit")]
    assert {i["steps"] for i in events if i["stage"] == "grid"} == {3}
