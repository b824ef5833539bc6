"""The entry point: lazy command loading, what stays unimported, --version, one-line usage errors,
and help that says what each value is."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import hiergenre
from hiergenre.cli.main import COMMANDS, app, main, short_help

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "timm", "sklearn", "matplotlib", "PIL")


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def imported_after(code: str) -> dict:
    """Run `code` in a fresh interpreter: {"heavy": HEAVY modules it imported, "out": stdout}."""
    probe = (
        "import io, json, sys, contextlib\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(json.dumps({'heavy': heavy, 'out': buf.getvalue()}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_taxonomy_package_does_not_import_torch():
    got = imported_after("import hiergenre.taxonomy\nimport hiergenre.taxonomy.build")
    assert got["heavy"] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["explain-taxonomy", "Rock"],
        ["taxonomy", "stats", "--top", "3"],
        ["--help"],
        ["--version"],
        ["taxonomy", "export", "--help"],
    ],
)
def test_taxonomy_commands_and_help_leave_torch_unimported(argv):
    got = imported_after(f"from hiergenre.cli.main import main\ncode = main({argv!r})")
    assert got["heavy"] == []
    if argv[0] == "explain-taxonomy":  # the command really ran
        assert "Music > Rock" in got["out"]


def test_explain_command_function_leaves_torch_unimported():
    """The command function itself, called without the CLI around it."""
    got = imported_after(
        "from hiergenre.cli.taxonomy_cmd import explain_taxonomy_cmd\n"
        "explain_taxonomy_cmd('Jazz', depth=1, data=None, as_json=True, taxonomy=None)"
    )
    assert got["heavy"] == [] and json.loads(got["out"])["path"] == ["Music", "Jazz"]


def test_the_probe_sees_torch():
    """The probe can fail: importing the models imports torch, and the probe reports it."""
    got = imported_after("import hiergenre.models")
    assert "torch" in got["heavy"]


def test_version_matches_the_package_metadata(capsys):
    code, out, _ = run(capsys, "--version")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert code == 0 and out == f"hiergenre {version}\n" and hiergenre.__version__ == version


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_is_the_command_help(name):
    """`hiergenre --help` reads each command's one-liner from its source without importing it:
    the text must be the loaded command's own first help line."""
    command = _loaded(name)
    first_line = (command.help or "").strip().splitlines()[0]
    assert short_help(name) == first_line and len(first_line) > 10


def _loaded(name: str):
    """The click command behind `name`, loaded the way a run loads it."""
    group = typer.main.get_command(app)
    ctx = group.make_context("hiergenre", [name], resilient_parsing=True)
    return group.get_command(ctx, name)


def test_root_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = re.findall(r"^│ ([a-z-]+)\s", out, flags=re.M)
    assert [n for n in listed if not n.startswith("-")] == list(COMMANDS)


def test_usage_errors_are_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "taxonomy", "export", "--out", str(tmp_path / "t.json"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert "Missing option '--format'. Choose from: json, graphml, tsv" in err
    assert "hiergenre taxonomy export --help" in err
    code, _, err = run(capsys, "trian")
    assert code == 2 and err.count("\n") == 1 and "Did you mean 'train'?" in err
    code, _, err = run(capsys, "taxonomy", "stats", "--top", "many")
    assert code == 2 and err.count("\n") == 1 and "'--top'" in err


def _every_command_path() -> list[list[str]]:
    paths = []
    for name in COMMANDS:
        command = _loaded(name)
        subs = getattr(command, "commands", None)
        paths += [[name, sub] for sub in subs] if subs else [[name]]
    return paths


def test_help_names_values_and_is_not_cut(capsys):
    """No `<str>`/`<bool>`/`<path>` type, no `…`: every option's value has a name."""
    for path in [[], *_every_command_path()]:
        code, out, _ = run(capsys, *path, "--help")
        assert code == 0, path
        assert not re.search(r"<(str|bool|path|int|float)>", out), (path, out)
        assert "…" not in out, (path, out)
    code, out, _ = run(capsys, "explain-taxonomy", "--help")
    assert (
        "GENRE" in out and re.search(r"--taxonomy\s+FILE", out) and re.search(r"--depth\s+N", out)
    )
    assert re.search(r"--data\s+DIR", out) and not re.search(r"--json\s+\S+\s+Print", out)
