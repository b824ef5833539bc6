"""Safe files: no code path unpickles or evaluates user data, and manifest paths stay inside
their dataset folder unless the user says otherwise."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

import hiergenre
from hiergenre.data import ImportOptions, load_dataset
from hiergenre.errors import CheckpointError, DataError
from hiergenre.taxonomy import load_taxonomy
from hiergenre.train.checkpoint import load_checkpoint

PACKAGE = Path(hiergenre.__file__).parent
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _kw_true(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords)  # fmt: skip


def unsafe_calls(source: str) -> list[str]:
    """What in `source` could run code from a file: unpickling, eval/exec, unsafe loads."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            found += [f"import {n}" for n in names if n and n.split(".")[0] in UNSAFE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            found.append(f"{name}()")
        elif name.endswith("torch.load") and not _kw_true(node, "weights_only"):
            found.append("torch.load() without weights_only=True")
        elif name in ("np.load", "numpy.load") and _kw_true(node, "allow_pickle"):
            found.append("np.load(allow_pickle=True)")
        elif name.endswith(("read_pickle", "torch.jit.load", "yaml.load", "yaml.unsafe_load")):
            found.append(f"{name}()")
    return found


def test_the_checker_catches_each_pattern():
    # Spelled in pieces so that a plain grep of the repository for unsafe loads stays clean.
    load, unpickle = "torch." + "load", "pickle." + "load"
    bad = (f"import pickle\nfrom dill import loads\n{unpickle}(f)\n{load}(p)\n"
           f"{load}(p, weights_only=False)\nnp.load(p, allow_pickle=True)\neval('1')\n"
           "exec('x=1')\npd.read_pickle(p)\n")  # fmt: skip
    assert len(unsafe_calls(bad)) == 8
    ok = f"{load}(p, weights_only=True)\nnp.load(p, mmap_mode='r')\nmodel.eval()\n"
    assert unsafe_calls(ok) == []


def test_package_never_unpickles_or_evals():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30
    problems = {str(f.relative_to(PACKAGE)): unsafe_calls(f.read_text(encoding="utf-8"))
                for f in files}  # fmt: skip
    assert {k: v for k, v in problems.items() if v} == {}
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    assert "pickle." + "load" not in text and "allow_pickle=" + "True" not in text


class _Trap:
    """Unpickling this touches a marker file: proof that something unpickled user data."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_disguised_as_a_checkpoint_is_refused_unopened(tmp_path, cli, trained_run):
    import shutil

    marker = tmp_path / "pwned"
    evil = pickle.dumps({"state_dict": _Trap(marker)})
    (tmp_path / "evil.safetensors").write_bytes(evil)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "evil.safetensors")
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "best.safetensors").write_bytes(evil)
    cli("evaluate", run).assert_user_error("corrupt or truncated")
    assert not marker.exists()


def test_manifest_paths_stay_inside_their_root_by_default(tmp_path):
    assert ImportOptions().allow_outside_root is False
    ds = tmp_path / "ds"
    ds.mkdir()
    (tmp_path / "small.tsv").write_text("genre\tparent\nRock\tMusic\n")
    tax = load_taxonomy(tmp_path / "small.tsv")
    for image in ("../secret.jpg", "a/../../secret.jpg", "./../ds/../secret.jpg"):
        (ds / "manifest.csv").write_text(f"album_id,image,labels\nx,{image},Rock\n")
        with pytest.raises(DataError, match="leaves the dataset folder"):
            load_dataset(ds, tax)
    (ds / "manifest.csv").write_text("album_id,image,labels\nx,a/../inside.jpg,Rock\n")
    assert load_dataset(ds, tax).image_paths() == [ds / "a/../inside.jpg"]
