"""Every odd or broken cover through `hiergenre data import`: decoded right, or skipped with its
reason in report.json, and the counts add up (albums in = kept + reported)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from hiergenre.data import ImageStore, load_dataset
from hiergenre.taxonomy import load_taxonomy


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def _check_report(report: dict, expected: dict[str, str | None], extra_in: int = 0) -> None:
    """Counts add up, and each broken file is listed under its expected reason."""
    assert report["albums_in"] == len(expected) + extra_in
    assert report["albums_in"] == report["albums_kept"] + report["albums_reported"]
    assert report["albums_reported"] == len(report["skipped"])
    reasons = {Path(s["image"]).name: s["reason"] for s in report["skipped"]}
    for name, reason in expected.items():
        assert reasons.get(name) == reason, (name, reasons.get(name), reason)
    bad = [n for n, r in expected.items() if r is not None]
    assert sum(report["skipped_by_reason"].values()) == report["albums_reported"]
    assert all(report["skipped_by_reason"][expected[n]] >= 1 for n in bad)


def _pixels(out: Path, taxonomy_file: Path, cache: Path) -> dict[str, np.ndarray]:
    """Decoded 32 px covers of the dataset, by file name (through the real ImageStore)."""
    dataset = load_dataset(out, load_taxonomy(taxonomy_file))
    store = ImageStore.open_or_build(dataset, 32, cache_dir=cache)
    assert store.ok.all()
    return {p.name: np.asarray(store.images[i]) for i, p in enumerate(dataset.image_paths())}


def _near(pixel: np.ndarray, rgb: tuple, tol: int = 40) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(rgb)).max() <= tol)


def _check_decoded(px: dict[str, np.ndarray]) -> None:
    """What each odd-but-valid cover must look like once decoded (32 x 32 RGB)."""
    exif = px["exif6.jpg"]  # stored left-red/right-blue, EXIF 6: red must end up on top
    assert _near(exif[4, 16], (230, 20, 20)) and _near(exif[27, 16], (20, 20, 230))
    cmyk = px["cmyk.jpg"]
    assert _near(cmyk[16, 4], (230, 20, 20), 60) and _near(cmyk[16, 27], (20, 200, 20), 60)
    assert np.abs(px["grey16.png"].astype(int) - 128).max() <= 1  # 32768 of 65535 -> 128
    palette = px["palette.png"]  # transparent left half composited on white
    assert (palette[:, :14] == 255).all() and (palette[:, 18:] == (0, 0, 255)).all()
    assert _near(px["anim.gif"][16, 16], (255, 0, 0), 10)  # the first frame of three
    assert (px["one.png"] == (10, 200, 30)).all()  # 1 x 1 scaled up


def test_folder_tree_import_decodes_or_reports_every_cover(cli, image_corpus, small_taxonomy,
                                                           tmp_path):  # fmt: skip
    collection = tmp_path / "covers"
    expected = image_corpus(collection / "Rock" / "Punk")
    (collection / "Jazz").mkdir()
    (collection / "Jazz" / "notes.txt").write_text("not a cover")  # counted as not-an-image
    out = tmp_path / "ds"
    result = cli("data", "import", collection, "--out", out, "--taxonomy", small_taxonomy,
                 "--duplicates", "keep")  # fmt: skip
    assert result.code == 0, result.text
    report = _report(out)
    _check_report(report, {**expected, "notes.txt": "not-an-image"})
    assert report["albums_kept"] == sum(r is None for r in expected.values())
    _check_decoded(_pixels(out, small_taxonomy, tmp_path / "store"))


def _csv_collection(root: Path, image_corpus, outside: Path) -> dict[str, str | None]:
    expected = image_corpus(root / "img")
    rows = [{"image": f"img/{name}", "labels": "Punk|Rock"} for name in sorted(expected)]
    rows += [{"image": "img/never-there.jpg", "labels": "Jazz"},
             {"image": "../outside.jpg", "labels": "Metal"},
             {"image": str(outside), "labels": "Bebop"}]  # fmt: skip
    with open(root / "albums.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["image", "labels"])
        writer.writeheader()
        writer.writerows(rows)
    return {**expected, "never-there.jpg": "missing"}


@pytest.mark.parametrize("allow", [False, True])
def test_csv_import_reports_broken_and_outside_covers(cli, image_corpus, small_taxonomy, tmp_path,
                                                      allow):  # fmt: skip
    root = tmp_path / "coll"
    root.mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    from PIL import Image

    Image.new("RGB", (20, 20), (90, 90, 0)).save(tmp_path / "outside.jpg")
    Image.new("RGB", (20, 20), (0, 90, 90)).save(other / "abs.jpg")
    expected = _csv_collection(root, image_corpus, other / "abs.jpg")
    out = tmp_path / "ds"
    flag = ["--allow-outside-root"] if allow else []
    result = cli("data", "import", root / "albums.csv", "--out", out, "--taxonomy",
                 small_taxonomy, "--duplicates", "keep", *flag)  # fmt: skip
    assert result.code == 0, result.text
    report = _report(out)
    outside = {"outside.jpg": None if allow else "outside-root",
               "abs.jpg": None if allow else "outside-root"}  # fmt: skip
    _check_report(report, {**expected, **outside})
    kept = {Path(p).name for p in load_dataset(out, load_taxonomy(small_taxonomy)).image_paths()}
    assert ("outside.jpg" in kept) is allow and ("abs.jpg" in kept) is allow
    assert kept == {n for n, r in {**expected, **outside}.items() if r is None}
    if not allow:
        _check_decoded(_pixels(out, small_taxonomy, tmp_path / "store"))
