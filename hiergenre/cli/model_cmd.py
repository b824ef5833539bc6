"""`hiergenre evaluate`, `predict` and `export` on a trained run: parse, call, render."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from hiergenre.cli.common import console, console_err
from hiergenre.errors import ConfigError

o = typer.Option


def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory (from train or benchmark)."),
    data: str = o(None, "--data", help="Score EVERY album of this dataset instead."),
    as_json: bool = o(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Re-score a trained run on its test part (the numbers of its summary.json)."""
    from hiergenre.benchmark.report import fmt
    from hiergenre.fileio import json_safe
    from hiergenre.train.rescore import evaluate_run

    result = json_safe(evaluate_run(run_dir, data))
    if as_json:
        console.print_json(json.dumps(result))
        return
    if result.get("note"):
        console_err.print(f"note: {result['note']}", highlight=False, soft_wrap=True)
    if result.get("unseen_genres"):
        unseen = result["unseen_genres"]
        line = f"{len(unseen)} genres never occur in the run's training albums"
        console_err.print(f"warning: {line}: {', '.join(unseen[:10])}", highlight=False,
                          soft_wrap=True)  # fmt: skip
    t = Table(title=f"{result['model_name']} on {result['dataset']} ({result['part']})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            t.add_row(key, fmt(value) if isinstance(value, float) else str(value))
        elif key == "level_accuracy":
            t.add_row(key, ", ".join(f"L{k} {fmt(v)}" for k, v in value.items()))
    console.print(t)


def predict(
    images: list[Path] = typer.Argument(..., help="Cover image files."),
    run: Path = o(..., "--run", help="A trained run directory."),
    top_k: int = o(3, "--top-k", help="How many genre paths per image (one per level-1 genre)."),
    decode: str = o("greedy", "--decode", help="greedy | beam | threshold | min-distance."),
    threshold: float = o(
        None, "--threshold", help="Stop a path where no child has P >= this (default: a leaf)."
    ),
    as_json: bool = o(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The top genre paths of each cover, with the model's own probabilities."""
    from hiergenre.predict import predict_images

    results = predict_images(images, run, top_k, decode=decode, threshold=threshold)
    if as_json:
        typer.echo(json.dumps(results, indent=1))
        return
    for item in results:
        console.print(f"[bold]{item['image']}[/]", highlight=False)
        if item["error"]:
            console.print(f"  could not read the cover: {item['error']}", highlight=False)
        for rank, p in enumerate(item["paths"], 1):
            steps = " > ".join(f"{n} ({q:.2f})" for n, q in zip(p["path"], p["probs"], strict=True))
            console.print(f"  {rank}. {steps}", highlight=False, markup=False)


def export(
    run_dir: Path = typer.Argument(..., help="A trained run directory."),
    onnx: bool = o(False, "--onnx", help="Export to ONNX (the only format for now)."),
    out: Path = o(None, "--out", help="Output .onnx file (default RUN_DIR/model.onnx)."),
) -> None:
    """Export a run's model to ONNX (RGB in [0, 1] in, node probabilities out), checked."""
    from hiergenre.export import export_onnx

    if not onnx:
        raise ConfigError("choose a format: pass --onnx")
    summary = export_onnx(run_dir, out)
    console.print(f"wrote {summary['onnx']} ({summary['labels']} {summary['output']} outputs, "
                  f"input 3x{summary['image_size']}x{summary['image_size']} RGB in [0, 1], "
                  f"normalised inside); max |onnxruntime - hiergenre predict| = "
                  f"{summary['max_abs_diff']:.2e}", highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
    app.command("export")(export)
