"""The CLI's contract, on every command and sub-command (found by walking the app, so a new
command is covered without editing this file): a user's mistake (an unknown option, a value of the
wrong kind, a file that does not exist) is one line on stderr and exit code 2; an unexpected
exception inside a command is one line naming the command, the exception and where to report it,
exit code 1, and a traceback only with `--debug` or HIERGENRE_DEBUG=1."""

from __future__ import annotations

import enum
from pathlib import Path

import pytest
import typer

from hiergenre.cli import main as cli_main
from hiergenre.cli.common import param_annotation
from hiergenre.cli.main import COMMANDS, EXIT_BUG, EXIT_USER, app, main

ROOT = Path(__file__).resolve().parents[1]


def _leaves(command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], object]]:
    subs = getattr(command, "commands", None)
    if not subs:
        return [(path, command)]
    ctx = command.make_context(path[-1], [], resilient_parsing=True)
    found = []
    for name in command.list_commands(ctx):
        found += _leaves(command.get_command(ctx, name), (*path, name))
    return found


def every_command() -> list[tuple[tuple[str, ...], object]]:
    """(argv path, click command) of every leaf command of the app."""
    group = typer.main.get_command(app)
    found = []
    for name in COMMANDS:
        ctx = group.make_context("hiergenre", [name], resilient_parsing=True)
        found += _leaves(group.get_command(ctx, name), (name,))
    return found


LEAVES = every_command()
IDS = [" ".join(path) for path, _ in LEAVES]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err, err


def _choices(param) -> list[str]:
    desc = param.type_descriptor
    if not desc.is_choice:
        return []
    return [c.value if isinstance(c, enum.Enum) else str(c) for c in desc.choices or []] or [
        m.value for m in desc.annotation
    ]


def missing_inputs(command, tmp_path: Path) -> list[str]:
    """Arguments that fill every required parameter (and --data, --taxonomy) with a path that
    cannot exist: a name inside a plain file, so it can be neither read nor created."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    missing = str(blocker / "missing")
    args: list[str] = []
    for param in command.params:
        if param.param_type_name == "argument":
            args.append(missing)
        elif param.required or param.name in ("data", "taxonomy"):
            if _choices(param):
                args += [param.opts[0], _choices(param)[0]]
            else:
                args += [param.opts[0], missing]
    return args


def test_every_command_is_found():
    """The walk reaches sub-commands (and so would reach a new one)."""
    assert {"data import", "train flat", "taxonomy export", "evaluate", "serve"} <= set(IDS)
    assert len(LEAVES) >= len(COMMANDS)


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_unknown_option_is_one_line(capsys, path, command):
    code, out, err = run(capsys, *path, "--no-such-option")
    assert code == EXIT_USER and out == ""
    assert_one_line(err)
    assert "--no-such-option" in err


def _bad_value(param) -> str | None:
    """A value this option's type refuses, or None when it accepts any text."""
    if _choices(param):
        return "no-such-choice"
    return "many" if param_annotation(param) in (int, float) else None


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_bad_option_value_is_one_line(capsys, tmp_path, path, command):
    typed = [
        p
        for p in command.params
        if p.param_type_name == "option" and not getattr(p, "is_flag", False) and _bad_value(p)
    ]
    if not typed:
        pytest.skip("no option with a typed value")
    for param in typed:
        code, out, err = run(capsys, *path, *missing_inputs(command, tmp_path), param.opts[0],
                             _bad_value(param))  # fmt: skip
        assert code == EXIT_USER, (param.name, err)
        assert_one_line(err)
        assert param.opts[0] in err or param.name in err, err


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_missing_file_is_one_line(capsys, tmp_path, monkeypatch, path, command):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    code, out, err = run(capsys, *path, *missing_inputs(command, tmp_path))
    assert code == EXIT_USER, (path, out, err)
    assert_one_line(err)
    assert "missing" in err or " --" in err, err  # names the path, or the option to fix


class Injected(RuntimeError):
    """Stands for a bug: an exception no code path expects."""


@pytest.fixture
def inject(monkeypatch):
    """Every command function raises Injected (the commands are loaded fresh for each run)."""
    real = cli_main.load_command

    def boom(*args, **kwargs):
        raise Injected("disk controller on fire")

    def load_and_break(name, ctx):
        command = real(name, ctx)
        for _, leaf in _leaves(command, (name,)):
            leaf.callback = boom
        return command

    monkeypatch.setattr(cli_main, "load_command", load_and_break)
    monkeypatch.delenv("HIERGENRE_DEBUG", raising=False)


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_unexpected_exception_is_one_line(capsys, tmp_path, inject, path, command):
    code, out, err = run(capsys, *path, *missing_inputs(command, tmp_path))
    assert code == EXIT_BUG
    assert_one_line(err)
    assert f"hiergenre {' '.join(path)}" in err  # the command
    assert "Injected: disk controller on fire" in err  # the exception
    assert "report" in err and "--debug" in err  # where to report it, and how to see more


@pytest.mark.parametrize("how", ["option", "env"])
def test_debug_shows_the_traceback(capsys, tmp_path, inject, monkeypatch, how):
    argv = ["taxonomy", "stats"]
    if how == "env":
        monkeypatch.setenv("HIERGENRE_DEBUG", "1")
    else:
        argv = ["--debug", *argv]
    code, _, err = run(capsys, *argv)
    assert code == EXIT_BUG
    assert "Traceback (most recent call last)" in err and "Injected: disk controller" in err
    assert "hiergenre taxonomy stats" in err


def test_exit_codes_are_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"exit code {EXIT_USER}" in readme and f"exit code {EXIT_BUG}" in readme
    assert "HIERGENRE_DEBUG=1" in readme
