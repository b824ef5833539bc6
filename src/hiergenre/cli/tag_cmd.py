"""`hiergenre tag`: genres for a music library's albums from their covers; `--write`, `--undo`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from hiergenre.cli.common import DEVICE, console, console_err
from hiergenre.cli.defaults import choices, library_value
from hiergenre.data.audio import AUDIO_SUFFIXES
from hiergenre.errors import ConfigError, DataError

o = typer.Option
SHOWN_SKIPS = 20
PROPOSE, TAG = "library/propose.py", "library/tag.py"
TAG_MODE = library_value(TAG, "TagOptions.mode")


def _mode_help(mode: str, text: str) -> str:
    return f"{text} (the default)." if mode == TAG_MODE else f"{text}."


def _mode(keep_existing: bool, replace: bool, fill_empty: bool) -> str:
    chosen = [m for m, on in (("keep-existing", keep_existing), ("replace", replace),
                              ("fill-empty", fill_empty)) if on]  # fmt: skip
    if len(chosen) > 1:
        raise ConfigError("choose one of --keep-existing, --replace and --fill-empty")
    return chosen[0] if chosen else TAG_MODE


def _bar(show: bool):
    if not show:
        return None, None
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    bar = Progress(*columns, console=console_err, transient=True)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task({"scan": "reading tags", "predict": "predicting covers",
                                         "write": "tagging albums"}.get(stage, stage))  # fmt: skip
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update


def _row(result) -> dict:
    p = result.proposal
    return {"album": result.album.name, "tracks": len(result.album.tracks),
            "cover": result.album.cover_from, "current": list(result.current),
            "proposed": list(p.genres) if p else [], "probs": list(p.probs) if p else [],
            "path": list(p.path) if p else [], "action": result.action,
            "files_written": result.written}  # fmt: skip


def _table(report) -> Table:
    t = Table(title="albums")
    for name in ("album", "current genre", "proposed", "probability", "action"):
        t.add_column(name, overflow="fold")
    for r in report.albums:
        p = r.proposal
        t.add_row(escape(r.album.name), escape("; ".join(r.current)),
                  escape("; ".join(p.genres)) if p else "",
                  " ".join(f"{v:.2f}" for v in p.probs) if p else "", escape(r.action))  # fmt: skip
    return t


def _summary(report) -> None:
    def say(text: str) -> None:
        console_err.print(text, highlight=False, soft_wrap=True, markup=False)

    actions: dict[str, int] = {}
    for r in report.albums:
        actions[r.action.split(" (")[0]] = actions.get(r.action.split(" (")[0], 0) + 1
    say(f"{len(report.albums)} albums: " + ", ".join(f"{n} {a}" for a, n in actions.items()))
    if report.unmapped:
        listed = ", ".join(f"{g} ({n} albums)" for g, n in report.unmapped.most_common())
        say(f"unmapped: your genre map keeps nothing for {listed}; add them to write these albums")
    if report.unknown_in_map:
        names = ", ".join(report.unknown_in_map[:10])
        more = (
            f" and {len(report.unknown_in_map) - 10} more"
            if len(report.unknown_in_map) > 10
            else ""
        )
        say(f"note: {len(report.unknown_in_map)} genres of the genre map are not in the taxonomy "
            f"(never predicted): {names}{more}")  # fmt: skip
    for skip in report.skipped[:SHOWN_SKIPS]:
        say(f"skipped {skip.path}: {skip.reason}")
    if len(report.skipped) > SHOWN_SKIPS:
        say(f"... and {len(report.skipped) - SHOWN_SKIPS} more files skipped")
    if report.files_written:
        say(f"wrote genres to {report.files_written} files; ledger {report.ledger}; "
            f"undo with: hiergenre tag --undo '{report.ledger}'")  # fmt: skip


def _undo(ledger: Path, quiet: bool) -> None:
    from hiergenre.library import undo_ledger

    if not ledger.is_file():
        raise ConfigError(f"--undo {ledger}: no such ledger; `tag --write` prints its path")
    bar, update = _bar(not quiet)
    if bar is None:
        report = undo_ledger(ledger)
    else:
        with bar:
            report = undo_ledger(ledger, lambda d, t: update("undo", d, t))
    for path, why in report.skipped:
        console_err.print(f"skipped {path}: {why}", highlight=False, markup=False)
    console.print(f"restored {report.restored} files; {report.unchanged} already as before; "
                  f"{len(report.skipped)} skipped", highlight=False)  # fmt: skip


def tag(
    library: Path = typer.Argument(None, help="Your music library's folder (or one audio file)."),
    run: Path = o(None, "--run", help="A trained run directory."),
    write: bool = o(False, "--write", help="Write the genre tags (through an undo ledger)."),
    levels: str = o(
        library_value(PROPOSE, "ProposeOptions.levels"),
        "--levels",
        help=f"{choices(library_value(PROPOSE, 'LEVELS'))}: which genres to write.",
    ),
    min_prob: float = o(
        None, "--min-prob", help="Back off to the parent genre when a sub-genre is below this."
    ),
    keep_existing: bool = o(
        False,
        "--keep-existing",
        help=_mode_help("keep-existing", "Add ours to the genres a file has"),
    ),
    replace: bool = o(
        False, "--replace", help=_mode_help("replace", "Replace the genres files have")
    ),
    fill_empty: bool = o(
        False, "--fill-empty", help=_mode_help("fill-empty", "Only albums with no genre")
    ),
    genre_map: Path = o(
        None, "--genre-map", help="Your genres: a .txt whitelist, a beets .yaml tree or a .tsv."
    ),
    id3v23_sep: str = o(
        library_value(TAG, "TagOptions.id3v23_sep"),
        "--id3v23-sep",
        help="Separator of several genres in ID3v2.3.",
    ),
    ledger: Path = o(
        None, "--ledger", help=f"The ledger (default LIBRARY/{library_value(TAG, 'LEDGER_NAME')})."
    ),
    undo: Path = o(None, "--undo", help="Restore every file a ledger wrote, byte for byte."),
    decode: str = o(
        library_value(PROPOSE, "ProposeOptions.decode"),
        "--decode",
        help=f"{choices(library_value('decode.py', 'DECODERS'))}.",
    ),
    batch_size: int = o(
        library_value(TAG, "TagOptions.batch_size"), "--batch-size", help="Covers per forward pass."
    ),
    workers: int = o(
        library_value(TAG, "TagOptions.workers"),
        "--workers",
        help="Threads decoding covers while the model runs.",
    ),
    device: str = DEVICE,
    as_json: bool = o(False, "--json", help="Print the albums as JSON instead of a table."),
    quiet: bool = o(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Genre tags for a music library from its covers (embedded or cover.jpg); --write, --undo."""
    if undo is not None:
        _undo(undo, quiet)
        return
    if library is None or run is None:
        raise ConfigError("give a LIBRARY folder and --run RUN (or --undo LEDGER)")
    from hiergenre.library import ProposeOptions, TagOptions, load_genre_map, tag_library
    from hiergenre.predictor import load_predictor

    if not library.exists():
        raise ConfigError(f"{library} does not exist: give your music library's folder")
    options = TagOptions(ProposeOptions(levels, min_prob, decode), _mode(keep_existing, replace,
                         fill_empty), write, ledger, id3v23_sep, batch_size, workers)  # fmt: skip
    predictor = load_predictor(run, device) if device else load_predictor(run)
    gmap = load_genre_map(genre_map, predictor.taxonomy) if genre_map is not None else None
    bar, update = _bar(not quiet and not as_json)
    if bar is None:
        report = tag_library(predictor, library, options, gmap)
    else:
        with bar:
            report = tag_library(predictor, library, options, gmap, update)
    if not report.albums and not report.skipped:
        raise DataError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {library}: "
                        "give your music library's folder")  # fmt: skip
    if as_json:
        typer.echo(json.dumps([_row(r) for r in report.albums], indent=1, ensure_ascii=False))
    else:
        console.print(_table(report))
    _summary(report)
