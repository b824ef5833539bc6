"""The Python API: `load_predictor`, inputs of every kind, DataFrames, the README example."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hiergenre
from hiergenre.errors import ConfigError, DataError
from hiergenre.predictor import DecodeOptions, load_predictor

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return load_predictor(tiny_run / "run", device="cpu")


@pytest.fixture(scope="module")
def covers(tiny_run):
    return sorted((tiny_run / "data" / "images").glob("*.jpg"))[:5]


def test_import_is_lazy_and_names_resolve():
    code = "import sys, hiergenre; print('torch' in sys.modules, hiergenre.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", hiergenre.__version__]
    from hiergenre.data.manifest import load_dataset
    from hiergenre.taxonomy import load_taxonomy
    from hiergenre.train import load_run

    assert hiergenre.load_taxonomy is load_taxonomy and hiergenre.load_run is load_run
    assert hiergenre.load_dataset is load_dataset
    assert hiergenre.load_predictor is load_predictor
    assert {"load_predictor", "load_run"} <= set(dir(hiergenre))
    with pytest.raises(AttributeError):
        hiergenre.no_such_name  # noqa: B018


def test_paths_pil_and_arrays_give_the_same_prediction(predictor, covers):
    pil = Image.open(covers[1])
    batch = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in covers[:2]])
    results = predictor.predict([covers[1], pil, np.asarray(pil), *batch], top_k=2)
    assert [r.source for r in results] == [str(covers[1]), "<image 1>", "<image 2>", "<image 3>",
                                           "<image 4>"]  # fmt: skip
    want = results[0]
    for other in (results[1], results[2], results[4]):
        assert [p.names for p in other.paths] == [p.names for p in want.paths]
        np.testing.assert_allclose([p.probs for p in other.paths], [p.probs for p in want.paths],
                                   atol=1e-6)  # fmt: skip
    first = predictor.predict(covers[0], top_k=2)[0]  # a single path, not a list
    np.testing.assert_allclose(results[3].top.probs, first.top.probs, atol=1e-6)


def test_paths_are_coherent_and_match_node_probs(predictor, covers):
    frame = predictor.node_probs(covers)
    assert frame.shape == (5, 445) and list(frame.index) == [str(p) for p in covers]
    assert frame.columns[0] == predictor.taxonomy.names[0]
    tax = predictor.taxonomy
    level1 = [n for n in predictor.trained_nodes if tax.level(n) == 1]  # never untrained genres
    assert 0 < len(level1) < 25
    for cover, pred in zip(covers, predictor.predict(covers, top_k=3), strict=True):
        assert len(pred.paths) == 3 and pred.error is None
        row = frame.loc[str(cover)]
        # path i starts with the i-th most probable level-1 genre, and shows the model's numbers
        assert [p.names[0] for p in pred.paths] == list(row[level1].nlargest(3).index)
        for path in pred.paths:
            assert list(path.names) == tax.path(path.genre)
            assert set(path.names) <= set(predictor.trained_nodes)
            assert all(a >= b for a, b in zip(path.probs, path.probs[1:], strict=False))
            np.testing.assert_allclose(path.probs, row[list(path.names)], rtol=1e-6)
            assert path.score == path.probs[-1]


def test_broken_inputs_are_reported_not_raised(predictor, covers, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"GIF89a broken")
    results = predictor.predict([bad, covers[0], tmp_path / "missing.png"], batch_size=2)
    assert [r.error for r in results] == ["not-an-image", None, "missing"]
    assert results[0].paths == () and results[0].top is None and results[1].top is not None
    frame = predictor.node_probs([bad, covers[0]])
    assert frame.iloc[0].isna().all() and not frame.iloc[1].isna().any()
    table = results.to_frame()
    assert list(table["error"].notna()) == [True, False, False, False, True]
    with pytest.raises(DataError, match="uint8"):
        predictor.predict(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ConfigError, match="`decode`"):
        DecodeOptions(decode="sideways")
    with pytest.raises(ConfigError, match="`device`"):
        load_predictor("anywhere", device="tpu")


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section holds one runnable example"
    return blocks[0]


def test_readme_example_runs(tiny_run, covers, tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "lite0").symlink_to(tiny_run / "run")
    (tmp_path / "covers").mkdir()
    shutil.copy(covers[0], tmp_path / "covers" / "front.jpg")
    Image.open(covers[1]).save(tmp_path / "covers" / "back.png")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mycovers").symlink_to(tiny_run / "data")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(_readme_example(), "README.md", "exec"), scope)  # noqa: S102
    lines = out.getvalue().splitlines()
    want = load_predictor(tiny_run / "run", device="cpu").predict("covers/front.jpg")[0].top
    assert lines[0] == f"covers/front.jpg {want}"
    assert "['Alternative Rock', 'Indie & Lo-Fi', 'Indie Rock']" in lines
    assert len(scope["frame"]) == 6 and scope["probs"].shape == (1, 445)
    assert lines[-1].startswith("40 [")
