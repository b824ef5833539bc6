"""Guards that keep a run from losing work: no silent overwrite, no split with an empty part."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from hiergenre.errors import ConfigError, DataError

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


def prepare_run_dir(run_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to train over an existing run unless `resume` or `overwrite` (which clears the old
    run's artifacts first, exported models included); refuse `resume` without a run."""
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: pick one")
    if resume:
        if not holds_run(run_dir):
            raise ConfigError(f"{run_dir} holds no run to resume: drop --resume")
        return
    if not holds_run(run_dir):
        return
    if not overwrite:
        raise ConfigError(
            f"{run_dir} already holds a run: pass --resume to continue it, --overwrite to "
            "replace it, or choose another --out"
        )
    for name in ARTIFACTS:
        (run_dir / name).unlink(missing_ok=True)
    log.info("cleared the old run in %s", run_dir)


FINISHED = ("completed", "early_stopped")


def check_unfinished(run_dir: str | Path, epochs: int) -> None:
    """ConfigError when `--resume` would only retrain a finished run: its summary says it
    completed `epochs` (or more) or stopped early. Nothing in the folder is touched."""
    import json

    path = Path(run_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no summary (killed) or a broken one: the run is resumable
    status, done = summary.get("status"), int(summary.get("epochs_run") or 0)
    if status not in FINISHED or (status == "completed" and epochs > done):
        return
    how = "stopped early" if status == "early_stopped" else "completed"
    more = f"pass --epochs N (more than {done}) to extend it, " if status == "completed" else ""
    raise ConfigError(
        f"{run_dir} holds a finished run ({how} after {done} epochs): nothing to resume; "
        f"{more}or --overwrite to train it again"
    )


def min_albums(ratios: tuple[float, ...]) -> int:
    """The fewest albums for which every part of a split with these ratios gets one."""
    return math.ceil(1.0 / min(ratios) - 1e-9)


def check_split(split, dataset) -> None:
    """DataError naming the minimum dataset size when a part of the split is empty."""
    from hiergenre.data.splits import PARTS, RATIOS

    sizes = {p: len(split.part(p)) for p in PARTS}
    empty = [p for p in PARTS if sizes[p] == 0]
    if not empty:
        return
    ratios = RATIOS.get(split.mode.replace("koenig-", ""), RATIOS["multilabel"])
    what = "albums" if "single" not in split.mode else "single-label albums"
    raise DataError(
        f"the {split.mode} split of {len(dataset)} albums leaves the {' and '.join(empty)} "
        f"part{'s' if len(empty) > 1 else ''} empty (train {sizes['train']}, dev "
        f"{sizes['dev']}, test {sizes['test']}): it needs at least {min_albums(ratios)} {what}; "
        "add covers or pass a split file with --split"
    )
