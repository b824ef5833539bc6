"""`run_benchmark`: every model and baseline trained and evaluated on ONE saved split.

The out directory holds `split.json` (the split every model used), `runs/<model>/` (each model's
run directory, loadable by `hiergenre evaluate/predict/export`), and the results files written
by `hiergenre.benchmark.report`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from hiergenre.baselines import get_baseline
from hiergenre.benchmark import report
from hiergenre.benchmark.config import BASELINE_NAMES, BenchmarkConfig, ModelPlan
from hiergenre.benchmark.setting import Setting, make_setting
from hiergenre.data import ImageStore, Split
from hiergenre.evaluate import evaluate_predictions
from hiergenre.taxonomy import single_label_subset
from hiergenre.train import DataSpec, ModelSpec, OptimSpec, TrainConfig, load_run, train_from_config
from hiergenre.train.rescore import model_speed, score_rows

log = logging.getLogger(__name__)
BASELINE_IMAGE_SIZE = 64
BASELINE_MAX_TRAIN = 4000  # the cheap baselines fit on at most this many training covers


def run_split(config: BenchmarkConfig, progress=None, split: Split | None = None) -> dict:
    """Train, evaluate and report every model of `config` on one split (`split`, else the one
    `make_setting` makes or finds in the out directory); returns the results dict that
    results.json holds (see `hiergenre.benchmark.report`)."""
    torch.manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    setting = make_setting(config, out, progress, split)
    results, preds = [], {}
    for name in config.models:
        _emit(progress, "model", {"name": name})
        start = time.perf_counter()
        if name in BASELINE_NAMES:
            row = run_baseline(name, setting)
        else:
            row = run_model(name, config.plan(name), setting, config, out / "runs" / name, progress)
        row["wall_seconds"] = time.perf_counter() - start
        probs, space = row.pop("_probs"), row.pop("_space")
        if row["output"] != "softmax":
            preds[name] = _curve_inputs(probs, space, row["test_rows"], setting)
        results.append(row)
        _emit(progress, "done", {"name": name, "row": row})
    payload = report.build_results(config, setting, results)
    report.write_results(payload, out, plots=config.plots, preds=preds)
    return payload


def _curve_inputs(probs: np.ndarray, space, rows, setting: Setting) -> tuple:
    """(y, scores, nodes) over the nodes of the space that the dataset uses (for PR curves)."""
    keep = [j for j, n in enumerate(space.nodes) if n in set(setting.present)]
    nodes = tuple(space.nodes[j] for j in keep)
    sub = type(space)(space.name, space.taxonomy, nodes)
    y = sub.encode([setting.label_sets[i] for i in rows])
    return y, probs[:, keep], nodes


def _emit(progress, event: str, info: dict) -> None:
    if progress is not None:
        progress(event, info)


def train_config(plan: ModelPlan, setting: Setting, config: BenchmarkConfig):
    """The TrainConfig a plan becomes (data = the benchmark's dataset and saved split)."""

    space = setting.single_space_name if plan.label_space == "single" else plan.label_space
    weights = config.weights if plan.name == "resnet101" else None
    return TrainConfig(
        model=ModelSpec(plan.name, space, weights, plan.frozen, dict(plan.options)),
        data=DataSpec(path=setting.data_path, split=str(setting.split_path),
                      image_size=plan.image_size, num_workers=0),
        optim=OptimSpec(lr=plan.lr),
        epochs=plan.epochs, batch_size=plan.batch_size, patience=plan.patience,
        seed=config.seed, device=config.device, log_every=1000,
        **({"l2_grid": plan.l2_grid} if plan.l2_grid else {}),
        **({"probe_iters": plan.probe_iters} if plan.probe_iters else {}),
    )  # fmt: skip


def run_model(
    name: str, plan: ModelPlan, setting: Setting, config: BenchmarkConfig, run_dir: Path, progress
) -> dict:
    """Train one model with `fit` (through `train_from_config`) and evaluate it on the test part."""

    tc = train_config(plan, setting, config)

    def relay(event: str, info: dict) -> None:
        _emit(progress, "train", {"name": name, "event": event, **info})

    start = time.perf_counter()
    result = train_from_config(
        tc, run_dir, relay, overwrite=True, split=setting.split
    )  # OUT/runs is the benchmark's own: a re-run replaces it
    train_seconds = time.perf_counter() - start
    if result.status == "diverged":
        log.warning("%s diverged: %s", name, result.message)
    run = load_run(run_dir, device="cpu")  # the whole model, timed on the CPU below
    model, space = run.model, run.label_space
    metrics, nodes, rows = test_scores(result, run, setting)
    probs = nodes[:, space.indices]
    np.save(run_dir / "test_probs.npy", probs.astype(np.float32))
    speed = model_speed(run, setting.dataset, rows)
    return {
        "name": name, "kind": "model", "output": model.output, "label_space": space.name,
        "metrics": metrics, "params": int(sum(p.numel() for p in model.parameters())),
        "trainable_params": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        "train_seconds": train_seconds,
        "images_per_s": speed.images_per_s, "speed": speed.to_dict(),
        "pretrained": getattr(model, "pretrained", None), "notice": getattr(model, "notice", None),
        "status": result.status, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
        "plan": asdict(plan), "run_dir": str(run_dir), "test_rows": rows.tolist(),
        "_probs": probs, "_space": space,
    }  # fmt: skip


def test_scores(result, run, setting: Setting) -> tuple[dict, np.ndarray, np.ndarray]:
    """A trained model's test metrics, node probabilities (M, num_nodes) and scored rows (M,).

    The run's summary scored its test part already (`result.test`, through the same
    `inference.predict_rows` and `evaluate.score_node_probs`): those are taken when they cover
    the benchmark's test albums with its classes and nodes. A softmax model's summary scores
    only the single-label albums of the part, so it (and a run that was not scored) is scored
    here on every test album whose cover decoded (`train.rescore.score_rows`)."""

    store = ImageStore.open_or_build(setting.dataset, run.preprocess.size)
    scored = result.test_rows is not None and np.array_equal(
        result.test_rows, store.usable(setting.test_rows)
    )
    classes = (run.classes.name, run.classes.nodes) == (setting.classes.name, setting.classes.nodes)
    same = classes and run.scored_nodes == setting.present
    if scored and same and result.test:
        return result.test, result.test_node_probs, result.test_rows
    metrics, nodes, rows, _ = score_rows(
        run, setting.dataset, setting.test_rows, classes=setting.classes, present=setting.present
    )
    return metrics, nodes, rows


def _images(setting: Setting, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (M, S, S, 3) covers of the rows that decoded, and those rows."""

    store = ImageStore.open_or_build(setting.dataset, BASELINE_IMAGE_SIZE)
    rows = store.usable(rows)
    return np.asarray(store.images[rows]), rows


def run_baseline(name: str, setting: Setting) -> dict:
    """Fit a baseline on the training part and evaluate it on the test part.

    `prior` is multi-label over every node (the poster's setting); `majority`, `colour-hist-lr`
    and `pca-lda-knn` are single-label over the dataset's single-label classes.
    """

    baseline = get_baseline(name)
    multilabel = name == "prior"
    space = setting.all_space if multilabel else setting.classes
    train_rows = setting.train_rows
    if multilabel:
        targets = space.encode([setting.label_sets[i] for i in train_rows])
    else:
        ids = single_label_subset([setting.label_sets[i] for i in train_rows], space)
        train_rows, targets = train_rows[ids >= 0], ids[ids >= 0]
    if len(train_rows) > BASELINE_MAX_TRAIN:
        pick = np.random.default_rng(0).choice(len(train_rows), BASELINE_MAX_TRAIN, replace=False)
        train_rows, targets = train_rows[np.sort(pick)], targets[np.sort(pick)]
    start = time.perf_counter()
    if baseline.uses_images:
        images, kept = _images(setting, train_rows)
        targets = targets[np.isin(train_rows, kept)]
        test_images, test_rows = _images(setting, setting.test_rows)
    else:
        images, test_images, test_rows = None, None, setting.test_rows
    baseline.fit(images, targets, space, task="multilabel" if multilabel else "singlelabel")
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    if baseline.uses_images:
        probs = baseline.predict_scores(test_images)
    else:
        probs = baseline.predict_scores(None, n=len(test_rows))
    seconds = time.perf_counter() - start
    labels = [setting.label_sets[i] for i in test_rows]
    metrics = evaluate_predictions(
        probs, space, labels, setting.taxonomy, "multilabel" if multilabel else "singlelabel",
        classes=setting.classes, present=setting.present,
    )  # fmt: skip
    return {
        "name": name, "kind": "baseline", "output": "sigmoid" if multilabel else "softmax",
        "label_space": space.name, "metrics": metrics, "params": None, "trainable_params": None,
        "train_seconds": train_seconds, "images_per_s": len(test_rows) / max(seconds, 1e-9),
        "pretrained": None, "notice": None, "status": "completed",
        "plan": {"image_size": BASELINE_IMAGE_SIZE if baseline.uses_images else None},
        "test_rows": np.asarray(test_rows).tolist(), "_probs": probs, "_space": space,
    }  # fmt: skip
