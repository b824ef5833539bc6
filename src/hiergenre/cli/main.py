"""Entry point: a typer app whose commands load on first use, and one-line errors (exit 2).

`hiergenre --help` and the taxonomy commands must start as fast as importing typer, rich, networkx,
numpy and pandas (benchmarks/bench_startup.py): a command's module, and whatever it imports
(torch, torchvision, the data pipeline), is imported only when that command runs or shows its help.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import sys
import traceback
from pathlib import Path

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from hiergenre import __version__
from hiergenre.cli.common import (
    CONTEXT,
    HELP_WIDTH,
    console_err,
    describe_params,
    speak_flags,
    usage_error_line,
)
from hiergenre.errors import HiergenreError
from hiergenre.runtime import tune_malloc

EXIT_USER = 2  # a HiergenreError, a usage error, an OSError the user can fix
EXIT_BUG = 1  # an exception no code path expects: a bug, reported in one line (--debug: traceback)

# name -> (module, attribute): a typer.Typer (a command group) or a command function.
COMMANDS: dict[str, tuple[str, str]] = {
    "explain-taxonomy": ("hiergenre.cli.taxonomy_cmd", "explain_taxonomy_cmd"),
    "taxonomy": ("hiergenre.cli.taxonomy_cmd", "taxonomy_app"),
    "data": ("hiergenre.cli.data_cmd", "data_app"),
    "train": ("hiergenre.cli.train_cmd", "train_app"),
    "benchmark": ("hiergenre.cli.benchmark_cmd", "benchmark"),
    "evaluate": ("hiergenre.cli.model_cmd", "evaluate"),
    "predict": ("hiergenre.cli.model_cmd", "predict"),
    "export": ("hiergenre.cli.model_cmd", "export"),
    "serve": ("hiergenre.cli.serve_cmd", "serve"),
    "tag": ("hiergenre.cli.tag_cmd", "tag"),
}


def short_help(name: str) -> str:
    """The first line of a command's help, read from its module's source without importing it:
    the docstring of a command function, or the `help=` of a `typer.Typer(...)` assignment."""
    module, attribute = COMMANDS[name]
    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        text = None
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            text = ast.get_docstring(node)
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == attribute for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            helps = [k.value for k in node.value.keywords if k.arg == "help"]
            text = helps[0].value if helps and isinstance(helps[0], ast.Constant) else None
        if text:
            return text.strip().splitlines()[0]
    return ""


def load_command(name: str, ctx):
    """Import the module behind `name` and build its click command (a group for a sub-app)."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(context_settings=CONTEXT, add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    describe_params(command, type(ctx)(command, parent=ctx, info_name=name))
    speak_flags(command)
    return command


class LazyGroup(TyperGroup):
    """The top-level group: lists COMMANDS without importing them, loads one when it runs."""

    _listing = False  # True while the group's own help is drawn: show stubs, import nothing

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            return TyperCommand(name=cmd_name, help=short_help(cmd_name))
        if self.commands.get(cmd_name) is None:
            self.commands[cmd_name] = load_command(cmd_name, ctx)
        return self.commands[cmd_name]

    def resolve_command(self, ctx, args):
        """As typer's, with `Did you mean ...?` drawn from the lazy names."""
        self.commands = {**dict.fromkeys(COMMANDS), **self.commands}  # names for the suggestion
        try:
            return super().resolve_command(ctx, args)
        finally:
            self.commands = {k: v for k, v in self.commands.items() if v is not None}

    def format_help(self, ctx, formatter) -> None:
        describe_params(self, ctx, recurse=False)
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="hiergenre",
    cls=LazyGroup,
    help="Predict album genres from cover art over MuMu's 4-level genre taxonomy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hiergenre {__version__}")
        raise typer.Exit(0)


_STATE = {"debug": False}  # --debug of the current run (set by the root callback)


def _set_debug(value: bool) -> None:
    _STATE["debug"] = _STATE["debug"] or value


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        is_eager=True,
        callback=_set_debug,
        help="Show the full traceback of an unexpected error (or set HIERGENRE_DEBUG=1).",
    ),
) -> None:
    """Predict album genres from cover art over MuMu's 4-level genre taxonomy."""


def _os_error_line(exc: OSError) -> str:
    what = escape(f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))
    return f"{what}: check the path, its permissions and the free disk space, then run the command again"  # noqa: E501


def _classes(name: str) -> tuple[type, ...]:
    """Every class called `name` among click's and typer's exceptions, wherever this typer keeps
    them: typer < 0.25 re-exports click's; typer >= 0.25 vendors click (`typer._click`) and keeps
    Abort and Exit in `typer.exceptions`. A name that one version lacks is simply not there."""
    places = ("typer", typer.BadParameter.__module__, "typer.exceptions", "click.exceptions")
    found = {getattr(sys.modules.get(place), name, None) for place in places}
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, BaseException))


def _click_exit(exc: BaseException) -> int | None:
    """The exit code for click's and typer's own exceptions (usage errors print one line)."""
    if isinstance(exc, _classes("NoArgsIsHelpError")):
        exc.show()  # a bare `hiergenre data`: its help
        return EXIT_USER
    if isinstance(exc, _classes("UsageError")):
        console_err.print(f"[bold red]error:[/] {usage_error_line(exc)}", highlight=False,
                          soft_wrap=True, markup=True)  # fmt: skip
        return EXIT_USER
    if isinstance(exc, _classes("ClickException") + _classes("TyperException")):
        console_err.print(f"[bold red]error:[/] {' '.join(exc.format_message().split())}",
                          highlight=False, soft_wrap=True)  # fmt: skip
        return EXIT_USER
    if isinstance(exc, _classes("Abort")):
        console_err.print("aborted")
        return 130
    if isinstance(exc, _classes("Exit")):
        return exc.exit_code
    return None


def _command_path(argv: list[str]) -> str:
    """`hiergenre data import`: the command that ran, read from its arguments (the root and the
    groups take only flags, so their first plain words are the command's names)."""
    words = [a for a in argv if not a.startswith("-")][:2]
    if not words or words[0] not in COMMANDS:
        return "hiergenre"
    module, attribute = COMMANDS[words[0]]
    group = isinstance(getattr(sys.modules.get(module), attribute, None), typer.Typer)
    return " ".join(["hiergenre", *words[: 2 if group else 1]])


def _report_to() -> str:
    """Where bugs go: the package's `Issues` URL when its metadata names one."""
    from importlib import metadata

    try:
        urls = metadata.metadata("hiergenre").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    issues = [u.split(",", 1)[1].strip() for u in urls if u.lower().startswith("issues,")]
    return issues[0] if issues else "the hiergenre issue tracker"


def _report_bug(exc: BaseException, argv: list[str]) -> int:
    """One line for an exception no code path expects; the traceback too with --debug."""
    debug = _STATE["debug"] or os.environ.get("HIERGENRE_DEBUG", "") not in ("", "0")
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    more = "" if debug else " with the output of the same command run with --debug"
    console_err.print(
        f"[bold red]error:[/] unexpected {escape(what)} in `{_command_path(argv)}`: this is a bug "
        f"in hiergenre, please report it at {escape(_report_to())}{more}",
        highlight=False, soft_wrap=True,
    )  # fmt: skip
    return EXIT_BUG


def _help_width() -> None:
    """Help fills the terminal, and HELP_WIDTH columns in a pipe (rich would use 80 and cut
    option names); TERMINAL_WIDTH still rules when set."""
    rich_utils = sys.modules.get("typer.rich_utils")
    if rich_utils is None and not sys.stdout.isatty():
        import typer.rich_utils as rich_utils
    if rich_utils is not None and rich_utils.MAX_WIDTH is None and not sys.stdout.isatty():
        rich_utils.MAX_WIDTH = HELP_WIDTH


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a HiergenreError or a usage error becomes one line and exit code 2, any other
    exception one line naming the command and exit code 1 (with its traceback under --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _STATE["debug"] = False
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tune_malloc()  # large CPU tensors from the heap: about 2x faster forward passes at 224 px
    _help_width()
    try:
        app(args=argv, prog_name="hiergenre", standalone_mode=False)
    except HiergenreError as exc:
        line = getattr(exc, "cli_message", None) or str(exc)
        console_err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        return EXIT_USER
    except KeyboardInterrupt:
        console_err.print("interrupted")
        return 130
    except OSError as exc:  # a full disk, a read-only or misnamed output path: the user can fix it
        console_err.print(f"[bold red]error:[/] {_os_error_line(exc)}", highlight=False,
                          soft_wrap=True)  # fmt: skip
        return EXIT_USER
    except SystemExit as exc:  # typer.Exit inside commands
        return int(exc.code or 0)
    except Exception as exc:  # typer >= 0.25 vendors click: its exceptions are typer's own
        code = _click_exit(exc)
        return _report_bug(exc, argv) if code is None else code
    return 0


if __name__ == "__main__":
    sys.exit(main())
