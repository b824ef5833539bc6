"""`hiergenre evaluate`, `predict` and `export` on a trained run: parse, call, render."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from hiergenre.cli.common import BACKEND, DEVICE, console, console_err
from hiergenre.cli.defaults import choices, library_value
from hiergenre.errors import ConfigError, DataError

o = typer.Option
DECODERS = choices(library_value("decode.py", "DECODERS"))


def _decode(field: str):
    """A DecodeOptions default (predictor.py)."""
    return library_value("predictor.py", f"DecodeOptions.{field}")


def _tagging(param: str):
    """A default of `tagging.tag_library`, what predict calls."""
    return library_value("tagging.py", f"tag_library.{param}")


def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory (from train or benchmark)."),
    data: str = o(
        None,
        "--data",
        help="Score this dataset instead, less its covers of the "
        "run's train and dev parts (found by content).",
    ),  # fmt: skip
    include_train: bool = o(
        False, "--include-train", help="With --data: score the run's training covers too."
    ),
    as_json: bool = o(False, "--json", help="Print the metrics as JSON."),
    details: bool = o(False, "--details", help="Also show per-label tables and every number."),
) -> None:
    """Re-score a trained run on its test part (the numbers of its summary.json)."""
    from hiergenre.cli.metrics_view import print_metrics
    from hiergenre.fileio import json_safe
    from hiergenre.train.rescore import evaluate_run

    if include_train and data is None:
        raise ConfigError("--include-train needs --data: the run's own test part has no "
                          "training covers")  # fmt: skip
    result = json_safe(evaluate_run(run_dir, data, include_train=include_train))
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
    title = f"{result['model_name']} on {result['dataset']} ({result['part']})"
    print_metrics({result["part"]: result}, title, details)


@contextmanager
def _progress_bar(label: str, show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich bar on stderr fed by the library's `progress(done, total)` callback."""
    if not show:
        yield None
        return
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console_err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _print_predictions(predictions) -> None:
    for item in predictions:
        console.print(f"[bold]{item.source}[/]", highlight=False)
        if item.error:
            console.print(f"  could not read the cover: {item.error}", highlight=False)
        for rank, p in enumerate(item.paths, 1):
            console.print(f"  {rank}. {p}", highlight=False, markup=False)


def predict(
    images: list[str] = typer.Argument(
        ..., help="Cover files, folders (recursive), globs, or .txt/.csv files listing paths."
    ),
    run: Path = o(..., "--run", help="A trained run directory."),
    top_k: int = o(_decode("top_k"), "--top-k", help="How many genre paths per cover."),
    decode: str = o(_decode("decode"), "--decode", help=f"{DECODERS}."),
    threshold: float = o(
        None, "--threshold", help="Stop at an internal genre when no child is this probable."
    ),
    out: Path = o(None, "--out", help="Write one row per cover to this .csv or .jsonl file."),
    batch_size: int = o(_tagging("batch_size"), "--batch-size", help="Covers per forward pass."),
    workers: int = o(
        _tagging("workers"), "--workers", help="Threads decoding covers while the model runs."
    ),
    device: str = DEVICE,
    backend: str = BACKEND,
    as_json: bool = o(False, "--json", help="Print JSON instead of a table (without --out)."),
    quiet: bool = o(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Tag covers with their top coherent genre paths; a broken cover is skipped, never fatal."""
    from hiergenre.predictor import DecodeOptions, load_predictor, predictions_to_dicts
    from hiergenre.tagging import check_out, tag_library

    options = DecodeOptions(top_k, decode, threshold)
    if out is not None:
        check_out(out)
    predictor = load_predictor(run, device or "auto", backend=backend)
    with _progress_bar("tagging covers", not quiet and not as_json) as update:
        summary, predictions = tag_library(predictor, images, options, out, batch_size=batch_size,
                                           workers=workers, progress=update)  # fmt: skip
    from hiergenre.train.distributed import is_main_process

    if out is not None:
        if is_main_process():  # under torchrun, rank 0 speaks for the job
            console_err.print(f"tagged {summary.ok} of {summary.total} covers "
                              f"({summary.skipped} skipped) -> {out}", highlight=False)  # fmt: skip
    elif as_json:
        typer.echo(json.dumps(predictions_to_dicts(predictions), indent=1))
    else:
        _print_predictions(predictions)
    if summary.ok == 0:
        raise DataError(f"none of the {summary.total} covers could be read: check the paths "
                        "(see the reasons above or in the output file)")  # fmt: skip


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
