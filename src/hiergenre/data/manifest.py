"""Datasets on disk: a directory with `manifest.csv` (one row per album) and `report.json`."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from hiergenre.data.labels import is_inside, resolve_label_sets
from hiergenre.errors import DataError, UnknownGenreError
from hiergenre.fileio import atomic_write_text
from hiergenre.taxonomy import Taxonomy

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
REPORT = "report.json"
COLUMNS = ("album_id", "image", "labels", "group", "source")
LABEL_SEP = "|"


@dataclass(frozen=True, eq=False)
class Dataset:
    """An imported collection: `manifest` has COLUMNS, its `labels` column holds `list[str]`."""

    root: Path
    manifest: pd.DataFrame
    report: dict

    def __len__(self) -> int:
        return len(self.manifest)

    @property
    def label_sets(self) -> list[list[str]]:
        return [list(x) for x in self.manifest["labels"]]

    @property
    def album_ids(self) -> list[str]:
        return self.manifest["album_id"].tolist()

    @property
    def groups(self) -> list[str]:
        """Artist (or other grouping) per album; '' where unknown."""
        return self.manifest["group"].tolist()

    def image_paths(self) -> list[Path]:
        """Absolute image path per album (relative entries are taken from `root`)."""
        return [_image_path(self.root, s) for s in self.manifest["image"]]

    @cached_property
    def digest(self) -> str:
        """16-hex content hash of the manifest (ids, images, labels, groups) and its root."""
        h = hashlib.sha256(str(self.root.resolve()).encode())
        for row in self.manifest.itertuples(index=False):
            line = "\t".join([row.album_id, row.image, LABEL_SEP.join(row.labels), row.group])
            h.update(line.encode("utf-8") + b"\n")
        return h.hexdigest()[:16]

    @property
    def duplicate_groups(self) -> list[list[str]]:
        """Album-id groups of duplicate covers that were kept (they must share a split)."""
        dups = self.report.get("duplicates", {}).get("groups", [])
        return [list(g["kept"]) for g in dups if len(g.get("kept", [])) > 1]


def _image_path(root: Path, image: str) -> Path:
    path = Path(image)
    return path if path.is_absolute() else root / path


def manifest_frame(rows: list[dict]) -> pd.DataFrame:
    """A manifest DataFrame from dicts with COLUMNS (labels as lists)."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("album_id", "image", "group", "source"):
        frame[col] = frame[col].fillna("").astype(str)
    frame["labels"] = [list(x) for x in frame["labels"]]
    return frame


def write_dataset(root: str | Path, manifest: pd.DataFrame, report: dict) -> Path:
    """Write `manifest.csv` and `report.json` into `root` (atomically, file by file)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = manifest.copy()
    out["labels"] = [LABEL_SEP.join(x) for x in out["labels"]]
    # The manifest goes last: a dataset without one is visibly incomplete.
    atomic_write_text(root / REPORT, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    atomic_write_text(root / MANIFEST, out.to_csv(index=False, lineterminator="\n"))
    return root


def load_dataset(path: str | Path, taxonomy: Taxonomy) -> Dataset:
    """Read a dataset directory (or its manifest.csv) and check every label against `taxonomy`."""
    path = Path(path)
    root = path.parent if path.suffix == ".csv" else path
    file = path if path.suffix == ".csv" else path / MANIFEST
    if not file.is_file():
        raise DataError(
            f"no {MANIFEST} in {root}: create one with `hiergenre data import SOURCE `out` {root}`."
        )
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{file} is not a readable CSV ({exc}); re-run the import.") from None
    missing = [c for c in ("album_id", "image", "labels") if c not in raw.columns]
    if missing:
        raise DataError(f"{file} lacks column(s) {', '.join(missing)}; re-run the import.")
    for col in ("group", "source"):
        if col not in raw.columns:
            raw[col] = ""
    dup = raw["album_id"][raw["album_id"].duplicated()].tolist()
    if dup:
        raise DataError(f"{file} repeats album_id {dup[0]!r} ({len(dup)}x); make ids unique.")
    _check_inside_root(raw["album_id"].tolist(), raw["image"].tolist(), root, file)
    raw["labels"] = _resolve_labels(raw["labels"].tolist(), taxonomy, file)
    report = {}
    if (root / REPORT).is_file():
        try:
            report = json.loads((root / REPORT).read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            log.warning("ignoring unreadable %s", root / REPORT)
    return Dataset(root=root, manifest=raw[list(COLUMNS)].reset_index(drop=True), report=report)


def _check_inside_root(ids: list[str], images: list[str], root: Path, file: Path) -> None:
    """Relative image paths must stay inside the dataset folder (no `../` escapes)."""
    for aid, image in zip(ids, images, strict=True):
        if Path(image).is_absolute():
            continue  # written by the importer, which checked it against the collection's root
        if not is_inside(image, root):
            raise DataError(f"{file}: album {aid!r} image {image!r} leaves the dataset folder; "
                            f"move the image under {root} or give its absolute path.")  # fmt: skip


def _resolve_labels(cells: list[str], taxonomy: Taxonomy, file: Path) -> list[list[str]]:
    """Split `a|b` cells and map each name to its node; unknown names raise UnknownGenreError."""
    names = [[x.strip() for x in cell.split(LABEL_SEP) if x.strip()] for cell in cells]
    out, unknown, _ = resolve_label_sets(names, taxonomy)
    if unknown:
        uniq = sorted(unknown)
        raise UnknownGenreError(uniq, {n: taxonomy.suggest(n) for n in uniq})
    if any(not x for x in out):
        log.warning("%s: %d albums have no labels", file, sum(not x for x in out))
    return out
