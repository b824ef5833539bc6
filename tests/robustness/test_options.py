"""Nonsense option values on every command: exit 2, one error line, no traceback, fast.

Train cases get safe defaults first (tiny model, the tiny synthetic set, one epoch, an --out in
tmp) so that a value that slipped through validation would show up as a wrong exit code, not as
a long run; the case's own options come last and win.
"""

from __future__ import annotations

import pytest

TRAIN = [
    (["--epochs", "-1"], "--epochs must be at least 1"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--epochs", "many"], "Invalid value for '--epochs'"),
    (["--image-size", "7"], "--image-size must be at least 32"),
    (["--image-size", "-64"], "--image-size must be at least 32"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--lr", "-0.1"], "--lr must be positive"),
    (["--lr", "nan"], "--lr must be positive"),
    (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
    (["--patience", "-2"], "--patience must be >= 0"),
    (["--optimizer", "adam"], "unknown optimizer 'adam'"),
    (["--schedule", "linear"], "unknown schedule 'linear'"),
    (["--balance", "smote"], "unknown balance mode 'smote'"),
    (["--device", "tpu"], "unknown --device 'tpu'"),
    (["--label-space", "level9"], "level9"),
    (["--split", "halves"], "--split 'halves' is neither a split file nor a mode"),
    (["--data", "{tmp}/missing"], "does not exist"),
    (["--data", "{tmp}"], "no manifest.csv"),
    (["--taxonomy", "{tmp}/missing.tsv"], "does not exist"),
    (["--config", "{tmp}/missing.toml"], "does not exist"),
    (["--config", "{tmp}/bad.toml"], "is not valid TOML"),
    (["--config", "{tmp}/unknown-key.toml"], "unknown key epoch"),
    (["--resume"], "holds no `last` checkpoint"),
    (["--out", "{tmp}/file.txt/run"], "Not a directory"),
]
FLAT = [
    (["--model", "resnet-7"], "unknown model 'resnet-7'"),
    (["--model", "hierarchical"], "unknown model 'hierarchical'"),
    (["--model", "resnet101", "--weights", "{tmp}/w.safetensors"], "does not exist"),
    (["--model", "koenig-multilabel", "--width", "-1", "--image-size", "64"], "--width"),
    (["--model", "koenig-multilabel", "--width", "0", "--image-size", "64"], "--width"),
    (["--model", "koenig-multilabel", "--image-size", "32"], "use at least 64 pixels"),
]
HIER = [
    (["--backbone", "vgg"], "unknown backbone 'vgg'"),
    (["--strategy", "flat"], "unknown strategy 'flat'"),
    (["--loss", "ce"], "unknown --loss 'ce': choose bce | conditional | mcloss"),
    (["--loss", "focal"], "unknown --loss 'focal'"),
    (["--mode", "argmax"], "unknown mode 'argmax'"),
]
OTHER = [
    (["benchmark", "--models", "resnet-7"], "resnet-7"),
    (["benchmark", "--models", ",,"], "--models"),
    (["benchmark", "--epochs", "0"], "--epochs must be at least 1"),
    (["benchmark", "--device", "tpu"], "unknown --device 'tpu'"),
    (["benchmark", "--models", "prior", "--data", "{tmp}/missing"], "no manifest.csv"),
    (["evaluate", "{tmp}/missing"], "missing"),
    (["evaluate", "{tmp}"], "is not a run directory"),
    (["predict", "{tmp}/a.jpg", "--run", "{tmp}/missing"], "missing"),
    (["export", "{tmp}", "--onnx"], "is not a run directory"),
    (["export", "{tmp}"], "pass --onnx"),
    (["data", "import", "{tmp}/missing", "--out", "{tmp}/ds"], "does not exist"),
    (
        ["data", "import", "{tmp}", "--out", "{tmp}/ds", "--format", "xls"],
        "unknown --format 'xls'",
    ),
    (
        ["data", "import", "{tmp}", "--out", "{tmp}/ds", "--unknown", "keep"],
        "unknown --unknown 'keep'",
    ),
    (
        ["data", "import", "{tmp}", "--out", "{tmp}/ds", "--duplicates", "x"],
        "unknown --duplicates 'x'",
    ),
    (["data", "stats", "{tmp}/missing"], "no manifest.csv"),
    (["data", "synth", "--out", "{tmp}/s", "--n", "0"], "n >= 1"),
    (["data", "synth", "--out", "{tmp}/s", "--n", "-5"], "n >= 1"),
    (["data", "synth", "--out", "{tmp}/s", "--size", "3"], "16 <= size"),
    (["data", "synth", "--out", "{tmp}/s", "--difficulty", "2"], "difficulty <= 1"),
    (["data", "synth", "--out", "{tmp}/s", "--difficulty", "-0.5"], "0 <= difficulty"),
    (["data", "synth", "--out", "{tmp}/file.txt", "--n", "4"], "Not a directory"),
    (["taxonomy", "stats", "--top", "0"], "Invalid value for '--top'"),
    (["taxonomy", "export", "--format", "xml", "--out", "{tmp}/t.xml"], "'xml'"),
    (["taxonomy", "build", "--out", "{tmp}/t.tsv"], "--from-metadata"),
    (["explain-taxonomy", "Rokk", "--taxonomy", "{tax}"], "unknown genre: 'Rokk'"),
    (["explain-taxonomy", "Rock", "--depth", "-1"], "Invalid value for '--depth'"),
]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A tmp folder with the files the cases name; the cwd, so nothing lands in the repo."""
    (tmp_path / "file.txt").write_text("a file, not a folder")
    (tmp_path / "bad.toml").write_text("epochs = = 3\n")
    (tmp_path / "unknown-key.toml").write_text("epoch = 3\n")
    (tmp_path / "a.jpg").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _case_id(value) -> str:
    return " ".join(value)[:48] if isinstance(value, list) else "-"


def _fill(args: list[str], tmp, tax) -> list[str]:
    return [a.format(tmp=tmp, tax=tax) for a in args]


def _train_case(kind: str, args: list[str], synth_set, tmp) -> list[str]:
    model = ["--model", "tiny"] if kind == "flat" else ["--backbone", "tiny"]
    safe = [*model, "--data", str(synth_set), "--epochs", "1", "--image-size", "32",
            "--out", str(tmp / "run"), "--quiet"]  # fmt: skip
    return ["train", kind, *safe, *args]


@pytest.mark.parametrize(("args", "needle"), TRAIN + FLAT, ids=_case_id)
def test_train_flat_refuses(cli, synth_set, scratch, small_taxonomy, args, needle):
    argv = _train_case("flat", _fill(args, scratch, small_taxonomy), synth_set, scratch)
    cli(*argv).assert_user_error(needle)
    assert not (scratch / "run" / "summary.json").exists()


@pytest.mark.parametrize(("args", "needle"), TRAIN[:4] + HIER, ids=_case_id)
def test_train_hierarchical_refuses(cli, synth_set, scratch, small_taxonomy, args, needle):
    argv = _train_case("hierarchical", _fill(args, scratch, small_taxonomy), synth_set, scratch)
    cli(*argv).assert_user_error(needle)
    assert not (scratch / "run" / "summary.json").exists()


@pytest.mark.parametrize(("args", "needle"), OTHER, ids=_case_id)
def test_other_commands_refuse(cli, scratch, small_taxonomy, args, needle):
    cli(*_fill(args, scratch, small_taxonomy)).assert_user_error(needle)
