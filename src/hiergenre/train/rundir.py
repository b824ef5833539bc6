"""Guards that keep a run from losing work: no silent overwrite (`hiergenre.runfolder`, which
loads no torch, so a refusal is instant), no split with an empty part."""

from __future__ import annotations

import logging
import math

from hiergenre.data.splits import PARTS, RATIOS
from hiergenre.errors import DataError
from hiergenre.runfolder import (  # noqa: F401 (the train package's names for them)
    ARTIFACTS,
    FINISHED,
    MARKERS,
    check_run_folder,
    check_unfinished,
    holds_run,
    prepare_run_dir,
)

log = logging.getLogger(__name__)


def min_albums(ratios: tuple[float, ...]) -> int:
    """The fewest albums for which every part of a split with these ratios gets one."""
    return math.ceil(1.0 / min(ratios) - 1e-9)


def check_split(split, dataset) -> None:
    """DataError naming the minimum dataset size when a part of the split is empty."""

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
        "add covers or pass a split file with `split`"
    )
