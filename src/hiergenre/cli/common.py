"""Shared CLI pieces: consoles, help layout, metavars, one-line usage errors, taxonomy loading."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from hiergenre.cli.defaults import choices, library_value
from hiergenre.errors import HiergenreError

if TYPE_CHECKING:
    import click

    from hiergenre.taxonomy import Taxonomy

console = Console()
console_err = Console(stderr=True)

HELP_WIDTH = 120  # help in a pipe or a narrow terminal is not cut at 80 columns
CONTEXT = {"max_content_width": HELP_WIDTH}
# What an option's value is, by parameter name, where its type alone does not say it.
NAMED_METAVARS = {
    "taxonomy": "FILE", "config": "FILE", "weights": "FILE", "from_metadata": "FILE",
    "from_labels": "FILE", "data": "DIR", "run": "DIR", "images": "DIR", "models": "NAMES",
    "device": "DEVICE", "seed": "N", "split": "FILE|MODE", "balance": "MODE", "mode": "MODE",
    "duplicates": "MODE", "unknown": "MODE",
}  # fmt: skip
TYPE_METAVARS = {int: "N", float: "NUMBER", str: "NAME"}

# One --device option for every command that runs a model (train, benchmark): same choices, same
# help, and no default of its own, so the library config's default applies.
DEVICE = typer.Option(
    None, "--device", help="auto (cuda when there is a GPU, else cpu) | cpu | cuda."
)
BACKEND = typer.Option(
    library_value("predictor.py", "load_predictor.backend"),
    "--backend",
    help=f"{choices(library_value('predictor.py', 'BACKENDS'))} (onnx: the exported graph in "
    "ONNX Runtime, CPU).",
)


def taxonomy_from_option(path: Path | None) -> Taxonomy:
    """The shipped taxonomy, or the table given with `--taxonomy FILE`."""
    from hiergenre.taxonomy import load_taxonomy

    return load_taxonomy(path)


def _path_metavar(help_text: str) -> str:
    text = help_text.lower()
    if "director" in text or "folder" in text:
        return "DIR"
    return "FILE" if "file" in text else "PATH"


def _metavar(param: click.Parameter) -> str | None:
    """FILE, DIR, N, NAME ...: what the value is; "" for a flag (no value); None: keep typer's."""
    if param.param_type_name == "argument":
        return param.name.upper() + ("..." if param.nargs != 1 else "")
    if getattr(param, "is_flag", False):
        return ""
    annotation = param_annotation(param)
    if annotation is None:
        return None  # an Enum or a choice: typer lists the choices
    if param.name in NAMED_METAVARS:
        return NAMED_METAVARS[param.name]
    if annotation is Path:
        return _path_metavar(getattr(param, "help", None) or "")
    return TYPE_METAVARS.get(annotation)


def param_annotation(param: click.Parameter) -> type | None:
    """The Python type of a parameter's value (str, int, float, Path, bool), None for a choice
    (typer >= 0.29 keeps the annotation on each parameter)."""
    desc = getattr(param, "type_descriptor", None)
    return None if desc is None or desc.is_choice else desc.annotation


def _no_type(ctx: click.Context) -> None:
    return None


def describe_params(command: click.Command, ctx: click.Context, recurse: bool = True) -> None:
    """Give every parameter (of the command, its `--help` and its sub-commands) a metavar saying
    what it is, unless the option chose one itself; typer's `<str>` and `<bool>` say nothing."""
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if param.metavar is None:
            param.metavar = _metavar(param)
        if param.param_type_name == "argument" and hasattr(param, "display_type_rich"):
            param.display_type_rich = _no_type  # the metavar (GENRE, RUN_DIR) says it
    for name, sub in getattr(command, "commands", {}).items() if recurse else ():
        if sub is not None:
            describe_params(sub, type(ctx)(sub, parent=ctx, info_name=name))


PYTHON_NAME = re.compile(r"`([a-z][a-z0-9_]*)`")


def as_flags(message: str, flags: dict[str, str]) -> str:
    """The library names a Python argument in backticks (`top_k`); a command shows its flag
    (--top-k) instead, for the names it has a flag for.

    >>> as_flags("`top_k` must be at least 1; see `decode`", {"top_k": "--top-k"})
    '--top-k must be at least 1; see `decode`'
    """
    return PYTHON_NAME.sub(lambda m: flags.get(m.group(1), m.group(0)), message)


def speak_flags(command: click.Command) -> None:
    """Make the errors of a command (and of its sub-commands) name its flags: a HiergenreError
    raised under it gets `cli_message`, its text with the Python names of its options as flags."""
    for sub in getattr(command, "commands", {}).values():
        if sub is not None:
            speak_flags(sub)
    if command.callback is None or getattr(command.callback, "speaks_flags", False):
        return
    flags = {}
    for param in command.params:
        if param.param_type_name == "option" and param.name:
            flag = max(param.opts, key=len)
            # the library says `fmt` or `format` for --format: both read as the flag
            flags[param.name] = flags[flag.lstrip("-").replace("-", "_")] = flag
    inner = command.callback

    @functools.wraps(inner)
    def callback(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except HiergenreError as exc:
            exc.cli_message = as_flags(str(exc), flags)
            raise

    callback.speaks_flags = True
    command.callback = callback


def usage_error_line(exc: click.UsageError) -> str:
    """Click's usage error (wrapped over several lines with tabs) as one line naming `--help`."""
    message = " ".join(exc.format_message().split())
    path = exc.ctx.command_path if exc.ctx is not None else "hiergenre"
    return escape(f"{message} (see `{path} --help`)")
