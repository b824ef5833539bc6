"""`hiergenre data import | stats | synth` through the real CLI entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hiergenre.cli.main import main
from hiergenre.taxonomy import Taxonomy

PARENTS = {"Rock": "Music", "Jazz": "Music", "Pop": "Music", "Indie Rock": "Rock",
           "Bebop": "Jazz", "Synthpop": "Pop", "Shoegaze": "Indie Rock"}  # fmt: skip


@pytest.fixture
def tax_file(tmp_path):
    return Taxonomy.from_parents(PARENTS).save(tmp_path / "genres.tsv")


def test_synth_then_stats(tmp_path, tax_file, capsys):
    out = tmp_path / "syn"
    args = ["data", "synth", "--n", "30", "--size", "24", "--seed", "2", "--difficulty", "0.4"]
    assert main([*args, "--out", str(out), "--taxonomy", str(tax_file)]) == 0
    assert "wrote 30 covers" in " ".join(capsys.readouterr().out.split())
    assert len(list((out / "images").glob("*.jpg"))) == 30
    assert main(["data", "stats", str(out), "--taxonomy", str(tax_file)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "30 albums in, 30 kept" in text and "long tail" in text


def test_import_folder_and_errors(tmp_path, tax_file, capsys):
    src = tmp_path / "src"
    for i, genre in enumerate(["Rock", "Jazz", "Shoegaze"]):
        (src / genre).mkdir(parents=True)
        arr = np.random.default_rng(i).integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(arr).resize((32, 32)).save(src / genre / "c.jpg")
    (src / "Jazz" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "ds"
    assert main(["data", "import", str(src), "--out", str(out), "--taxonomy", str(tax_file)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "4 albums in, 3 kept, 1 reported" in text and "empty" in text
    report = json.loads((out / "report.json").read_text())
    assert report["skipped"][0]["reason"] == "empty"

    (src / "Polka").mkdir()
    Image.new("RGB", (8, 8)).save(src / "Polka" / "p.jpg")
    base = ["data", "import", str(src), "--out", str(out), "--taxonomy", str(tax_file)]
    assert main(base) == 2
    assert "Polka" in capsys.readouterr().err
    assert main([*base, "--unknown", "drop"]) == 0
    assert main([*base, "--duplicates", "sometimes"]) == 2
    assert main(["data", "stats", str(tmp_path / "missing"), "--taxonomy", str(tax_file)]) == 2


def test_import_csv_label_columns_as_list_or_repeated(tmp_path, tax_file, capsys):
    src = tmp_path / "src"
    src.mkdir()
    lines = ["path,genres,styles,group"]
    for i, (genres, styles) in enumerate([("rock", "indierock|acoustic"), ("pop", "synthpop"),
                                          ("jazz", "")]):  # fmt: skip
        arr = np.random.default_rng(i).integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(arr).resize((32, 32)).save(src / f"# {i} ‘cover’.jpg")
        lines.append(f"# {i} ‘cover’.jpg,{genres},{styles},artist{i % 2}")
    (src / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ["data", "import", str(src / "m.csv"), "--image-col", "path", "--group-col", "group",
            "--taxonomy", str(tax_file)]  # fmt: skip
    for i, cols in enumerate((["--label-col", "genres,styles"],
                              ["--label-col", "genres", "--label-col", "styles"])):  # fmt: skip
        out = tmp_path / f"ds{i}"
        assert main([*base, *cols, "--out", str(out)]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "3 albums in, 3 kept" in text and "acoustic (1)" in text
        manifest = (out / "manifest.csv").read_text(encoding="utf-8")
        assert "Rock|Indie Rock" in manifest and "Pop|Synthpop" in manifest
        assert "artist1" in manifest
    assert main([*base, "--label-col", "genres", "--names", "mumu", "--out", str(out)]) == 2
