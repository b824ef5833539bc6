"""The library speaks Python, the CLI speaks flags: a library error names the Python argument in
backticks (`top_k`), and a command shows its own flag (--top-k) for it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from hiergenre.cli.common import as_flags
from hiergenre.cli.main import main
from hiergenre.errors import ConfigError
from hiergenre.predictor import DecodeOptions

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hiergenre"
FLAG = re.compile(r"(?<![\w`-])--[a-z][a-z0-9-]*")


def flags_in_library_errors(path: Path) -> list[str]:
    """`file:line: --flag` for each CLI flag written in a raise or a check_choice of `path`."""
    source = path.read_text()
    lines = source.split("\n")
    spans = set()
    for node in ast.walk(ast.parse(source)):
        target = None
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_choice":
            target = node.args[0] if node.args else None
        if target is not None:
            spans.update(range(target.lineno, target.end_lineno + 1))
    rel = path.relative_to(PACKAGE)
    return [f"{rel}:{n}: {flag}" for n in sorted(spans) for flag in FLAG.findall(lines[n - 1])]


def test_library_errors_name_python_arguments_not_flags():
    bad = [hit for path in sorted(PACKAGE.rglob("*.py"))
           if path.relative_to(PACKAGE).parts[0] != "cli"
           for hit in flags_in_library_errors(path)]  # fmt: skip
    assert not bad, "write `python_name` in library errors (the CLI maps it):\n" + "\n".join(bad)


def test_the_check_sees_a_flag_in_a_raise(tmp_path, monkeypatch):
    module = tmp_path / "m.py"
    module.write_text('def f(k):\n    raise ValueError(\n        f"--top-k {k}"\n    )\n')
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    assert flags_in_library_errors(module) == ["m.py:3: --top-k"]


def test_as_flags_maps_only_names_the_command_has():
    flags = {"top_k": "--top-k", "fmt": "--format", "format": "--format"}
    assert (
        as_flags("`top_k` must be >= 1 (see `decode`)", flags)
        == "--top-k must be >= 1 (see `decode`)"
    )
    assert as_flags("unknown `format` 'x'", flags) == "unknown --format 'x'"
    assert as_flags("no `Top_K` here", flags) == "no `Top_K` here"


def test_python_user_reads_the_argument_and_cli_user_the_flag(tiny_run, tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"^`top_k` must be at least 1, got 0$"):
        DecodeOptions(top_k=0)
    cover = tmp_path / "c.png"
    cover.write_bytes(b"not read: the option is checked first")
    code = main(["predict", str(cover), "--run", str(tiny_run), "--top-k", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--top-k must be at least 1, got 0" in err and "`top_k`" not in err
