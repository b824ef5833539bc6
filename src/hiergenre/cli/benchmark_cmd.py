"""`hiergenre benchmark`: parse, call the library, render."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hiergenre.cli.common import DEVICE, console, console_err
from hiergenre.cli.defaults import library_value

o = typer.Option


def _bench(name: str):
    """A default of benchmark/config.py (BenchmarkConfig, the model plans)."""
    return library_value("benchmark/config.py", name)


def _progress(quiet: bool):
    """A progress callback printing one line per model (and per epoch) to stderr."""
    started: dict[str, float] = {}

    def show(event: str, info: dict) -> None:
        if quiet:
            return
        if event == "model":
            started[info["name"]] = time.perf_counter()
            console_err.print(f"[bold]{info['name']}[/]: training and evaluating ...")
        elif event == "train" and info.get("event") == "epoch":
            dev = info.get("dev", {})
            metric = info.get("metric", "")
            score = f"dev {metric} {dev.get(metric, float('nan')):.4f}"
            if info.get("head_fit"):  # a frozen encoder's head fitted as a linear probe
                l2 = info["head_fit"]["chosen_l2"]
                console_err.print(f"  linear probe (L-BFGS, L2 {l2})  {score}", highlight=False)
            else:
                console_err.print(f"  epoch {info['epoch']}  loss {info['train_loss']:.4f}  "
                                  f"{score}", highlight=False)  # fmt: skip
        elif event == "fold":
            console_err.print(f"[bold]fold {info['fold']} of {info['folds']}[/]")
        elif event == "done":
            seconds = time.perf_counter() - started.get(info["name"], time.perf_counter())
            console_err.print(f"  done in {seconds:.0f} s", highlight=False)

    return show


def render_benchmark(payload: dict) -> None:
    """The benchmark table and the lines under it."""
    from hiergenre.benchmark import headline, level_albums, level_table, table

    headers, rows = table(payload)
    t = Table(title="hiergenre benchmark (poster's MuMu numbers in parentheses)", show_lines=False)
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i < 2 else "right", no_wrap=i < 2)
    for r, row in zip(payload["models"], rows, strict=True):
        style = "dim" if r["kind"] == "baseline" else None
        t.add_row(*row, style=style)
    # A pipe gets 80 columns and a squeezed table folds every number: render it at full width.
    wide = Console(width=max(console.width, 180), force_terminal=console.is_terminal)
    wide.print(t)
    level_headers, level_rows = level_table(payload)
    if any(r["metrics"].get("level1_albums") for r in payload["models"]):
        lt = Table(title="per level (over the test albums labelled to that depth)")
        for i, h in enumerate(level_headers):
            lt.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for r, row in zip(payload["models"], level_rows, strict=True):
            lt.add_row(*row, style="dim" if r["kind"] == "baseline" else None)
        wide.print(lt)
        console.print(level_albums(payload), highlight=False, soft_wrap=True, markup=False)
    for line in headline(payload):
        style = "bold red" if line.startswith("NOTICE") or "NOT" in line else None
        console.print(line, style=style, highlight=False, soft_wrap=True, markup=False)


def benchmark(
    data: str = o(None, "--data", help="Imported dataset directory; default: synthetic covers."),
    models: str = o(None, "--models", help="Comma-separated subset of the models and baselines."),
    quick: bool = o(
        False,
        "--quick",
        help="Fewer epochs, smaller models, shorter probe grids (~2 min, 2 cores).",
    ),
    out: Path = o(Path(_bench("BenchmarkConfig.out")), "--out", help="Results directory."),
    seed: int = o(
        _bench("BenchmarkConfig.seed"), "--seed", help="Seed of the split and of every model."
    ),
    device: str = DEVICE,
    epochs: int = o(None, "--epochs", help="Epochs for every model (overrides the plans)."),
    image_size: int = o(
        None,
        "--image-size",
        help="Input size for every model (real covers want 128-224; default: each model's plan, "
        f"{_bench('ModelPlan.image_size')} px, pretrained encoders their native size, "
        f"{_bench('SYNTHETIC_SIZE')} px on the synthetic covers).",
    ),
    weights: str = o(None, "--weights", help="Local ImageNet ResNet-101 weights file."),
    folds: int = o(
        None,
        "--folds",
        help="K-fold cross-validation (stratified, group-aware when "
        "the dataset has groups): mean +- sd of every metric.",
    ),  # fmt: skip
    no_plots: bool = o(False, "--no-plots", help="Skip the PNG plots."),
    quiet: bool = o(False, "--quiet", "-q", help="No progress lines."),
) -> None:
    """Train and evaluate the poster's models, the project's models and baselines on one split."""
    from hiergenre.benchmark import BenchmarkConfig, parse_models, run_benchmark

    given = {"device": device} if device is not None else {}  # else the config's default
    config = BenchmarkConfig(
        data=data, models=parse_models(models), quick=quick, out=str(out), seed=seed,
        epochs=epochs, image_size=image_size, weights=weights, plots=not no_plots, **given,
        folds=folds,
    )  # fmt: skip
    payload = run_benchmark(config, _progress(quiet))
    render_benchmark(payload)
    plots = " and PNG plots" if config.plots else ""
    console.print(f"Results: {out}/results.md, results.json, results.csv{plots}.")
