"""A run folder's guards, without torch: what a run writes, whether a folder holds one, and
the refusals that keep a run from losing work (`hiergenre train` checks them before loading
anything heavy; `hiergenre.train` applies them again when it trains)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hiergenre.errors import ConfigError

log = logging.getLogger(__name__)

# Everything a run (and export) writes into its folder; `--overwrite` removes exactly these.
ARTIFACTS = (
    "config.json", "split.json", "taxonomy.tsv", "run.json", "metrics.jsonl", "summary.json",
    "best.safetensors", "best.json", "last.safetensors", "last.json", "test_probs.npy",
    "model.onnx", "model.labels.json",
)  # fmt: skip
MARKERS = ("config.json", "last.safetensors", "summary.json")


def holds_run(run_dir: str | Path) -> bool:
    """True when the folder holds (part of) a run."""
    return any((Path(run_dir) / m).exists() for m in MARKERS)


def check_run_folder(run_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """ConfigError when training into `run_dir` would lose work or has nothing to resume: a run
    there without `resume` or `overwrite`, `resume` without a run, or both flags."""
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ConfigError("`resume` and `overwrite` contradict each other: pick one")
    if resume and not holds_run(run_dir):
        raise ConfigError(f"{run_dir} holds no run to resume: drop `resume`")
    if not resume and not overwrite and holds_run(run_dir):
        raise ConfigError(
            f"{run_dir} already holds a run: pass `resume` to continue it, `overwrite` to "
            "replace it, or choose another `out`"
        )


def prepare_run_dir(run_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to train over an existing run unless `resume` or `overwrite` (which clears the old
    run's artifacts first, exported models included); refuse `resume` without a run."""
    run_dir = Path(run_dir)
    check_run_folder(run_dir, resume=resume, overwrite=overwrite)
    if resume or not holds_run(run_dir):
        return
    for name in ARTIFACTS:
        (run_dir / name).unlink(missing_ok=True)
    log.info("cleared the old run in %s", run_dir)


FINISHED = ("completed", "early_stopped")


def check_unfinished(run_dir: str | Path, epochs: int) -> None:
    """ConfigError when `--resume` would only retrain a finished run: its summary says it
    completed `epochs` (or more) or stopped early. Nothing in the folder is touched."""
    path = Path(run_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no summary (killed) or a broken one: the run is resumable
    status, done = summary.get("status"), int(summary.get("epochs_run") or 0)
    if status not in FINISHED or (status == "completed" and epochs > done):
        return
    how = "stopped early" if status == "early_stopped" else "completed"
    more = f"pass `epochs` N (more than {done}) to extend it, " if status == "completed" else ""
    raise ConfigError(
        f"{run_dir} holds a finished run ({how} after {done} epochs): nothing to resume; "
        f"{more}or `overwrite` to train it again"
    )
