"""Entry point: builds the typer app from the command modules and turns user errors into exit 2."""

from __future__ import annotations

import logging
import sys

import typer
from typer.exceptions import TyperException

from hiergenre.cli import benchmark_cmd, data_cmd, taxonomy_cmd, train_cmd
from hiergenre.cli.common import console_err
from hiergenre.errors import HiergenreError

app = typer.Typer(
    name="hiergenre",
    help="Predict album genres from cover art over MuMu's 4-level genre taxonomy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
taxonomy_cmd.register(app)
data_cmd.register(app)
train_cmd.register(app)
benchmark_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a HiergenreError becomes a one-line message and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, standalone_mode=False)
    except HiergenreError as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console_err.print("interrupted")
        return 130
    except OSError as exc:  # a full disk, a read-only or misnamed output path: the user can fix it
        from rich.markup import escape

        what = escape(f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))
        console_err.print(
            f"[bold red]error:[/] {what}: check the path, its permissions and the free disk "
            "space, then run the command again", highlight=False, soft_wrap=True,
        )  # fmt: skip
        return 2
    except SystemExit as exc:  # typer.Exit inside commands
        return int(exc.code or 0)
    except typer.Exit as exc:  # typer >= 0.25 vendors click: its exceptions are typer's own
        return exc.exit_code
    except typer.Abort:
        console_err.print("aborted")
        return 130
    except Exception as exc:  # usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException | TyperException):
            exc.show()  # type: ignore[union-attr]
            return 2
        if isinstance(exc, click.exceptions.Abort):
            console_err.print("aborted")
            return 130
        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
