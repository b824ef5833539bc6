"""`hiergenre data ...`: import a cover collection, show its report, make synthetic covers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from hiergenre.cli.common import console, taxonomy_from_option
from hiergenre.cli.fetch_cmd import fetch_cmd
from hiergenre.data import ImportOptions, generate_synthetic, import_collection, load_dataset
from hiergenre.data import synth as synth_defaults
from hiergenre.data.readers import CsvColumns

data_app = typer.Typer(
    help="Fetch and import cover collections, inspect datasets, make synthetic covers."
)
data_app.command("fetch")(fetch_cmd)

TaxonomyOpt = Annotated[
    Path | None, typer.Option("--taxonomy", help="Genre table (default: the shipped MuMu tree).")
]


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich bar fed by the library's `progress(done, total)` callback."""
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


_IMPORT = ImportOptions()
_COLS = CsvColumns()


@data_app.command("import")
def import_cmd(
    source: Annotated[Path, typer.Argument(help="Folder tree, MuMu CSV/JSON or a labelled CSV.")],
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to write.")],
    fmt: Annotated[str, typer.Option("--format", help="auto|mumu-csv|mumu-json|folders|csv")] = (
        _IMPORT.format
    ),
    images: Annotated[Path | None, typer.Option(help="Folder holding the image files.")] = None,
    unknown: Annotated[str, typer.Option(help="Unknown genre names: error|drop.")] = (
        _IMPORT.unknown
    ),
    duplicates: Annotated[str, typer.Option(help="Duplicate covers: merge|drop|keep.")] = (
        _IMPORT.duplicates
    ),
    allow_outside_root: Annotated[
        bool, typer.Option(help="Accept image paths that leave the collection's folder.")
    ] = _IMPORT.allow_outside_root,
    image_col: Annotated[str, typer.Option(help="CSV column with the image path.")] = _COLS.image,
    label_col: Annotated[
        list[str] | None,
        typer.Option(
            help="CSV column(s) with the genres: repeat it or give a comma list "
            f"(Discogs: --label-col genres --label-col styles). Default: {_COLS.labels}."
        ),
    ] = None,
    group_col: Annotated[str, typer.Option(help="CSV column with the artist/group.")] = (
        _COLS.group
    ),
    id_col: Annotated[str, typer.Option(help="CSV column with the album id.")] = _COLS.album_id,
    label_sep: Annotated[str, typer.Option(help="Separator between genres in a CSV cell.")] = (
        _COLS.label_sep
    ),
    names: Annotated[
        str,
        typer.Option(
            help="How genre names are read: auto|discogs|taxonomy (auto: discogs for a "
            "CSV or folders, taxonomy for MuMu files; see docs/TAXONOMY.md)."
        ),
    ] = _IMPORT.names,
    folder_levels: Annotated[
        int, typer.Option(help="Folder levels below the root that name genres (0: all).")
    ] = _IMPORT.folder_levels,
    workers: Annotated[int | None, typer.Option(help="Decoding processes (default: auto).")] = (
        None
    ),
    taxonomy: TaxonomyOpt = None,
) -> None:
    """Import a labelled cover collection into a dataset (manifest.csv + report.json)."""
    tax = taxonomy_from_option(taxonomy)
    labels = tuple(c.strip() for cols in (label_col or [_COLS.labels]) for c in cols.split(","))
    columns = CsvColumns(image=image_col, labels=tuple(c for c in labels if c), group=group_col,
                         album_id=id_col, label_sep=label_sep)  # fmt: skip
    options = ImportOptions(format=fmt, images=images, unknown=unknown, duplicates=duplicates,
                            allow_outside_root=allow_outside_root, workers=workers,
                            columns=columns, folder_levels=folder_levels,
                            names=names)  # fmt: skip
    with progress_bar("decoding covers") as update:
        dataset = import_collection(source, out, tax, options, progress=update)
    render_report(dataset.report, top=15)
    console.print(f"wrote {out / 'manifest.csv'} and {out / 'report.json'}")


@data_app.command("stats")
def stats_cmd(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    top: Annotated[int, typer.Option(help="How many genres to list.")] = 25,
    taxonomy: TaxonomyOpt = None,
) -> None:
    """Show a dataset's report: albums kept and skipped, duplicates, genre counts, the long tail."""
    dataset = load_dataset(path, taxonomy_from_option(taxonomy))
    render_report(dataset.report, top=top)


@data_app.command("synth")
def synth_cmd(
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to write.")],
    n: Annotated[int, typer.Option("--n", help="Number of covers.")] = synth_defaults.DEFAULT_N,
    size: Annotated[int, typer.Option(help="Cover side in pixels.")] = synth_defaults.DEFAULT_SIZE,
    seed: Annotated[int, typer.Option(help="Random seed.")] = synth_defaults.DEFAULT_SEED,
    difficulty: Annotated[
        float, typer.Option(help="0 = clean signal, 1 = mostly noise.")
    ] = synth_defaults.DEFAULT_DIFFICULTY,
    taxonomy: TaxonomyOpt = None,
) -> None:
    """Draw a synthetic cover set (real JPEG files) whose labels follow the taxonomy."""
    tax = taxonomy_from_option(taxonomy)
    with progress_bar("drawing covers") as update:
        dataset = generate_synthetic(out, n, size, seed, difficulty, tax, progress=update)
    render_report(dataset.report, top=15)
    console.print(f"wrote {len(dataset)} covers to {out}")


def render_report(report: dict, top: int) -> None:
    """Print a dataset report: totals, skip reasons, duplicates, levels, top genres, tail."""
    console.print(
        f"[bold]{report.get('source', '?')}[/] ({report.get('format', '?')}): "
        f"{report.get('albums_in', 0)} albums in, {report.get('albums_kept', 0)} kept, "
        f"{report.get('albums_reported', 0)} reported"
    )
    for reason, count in report.get("skipped_by_reason", {}).items():
        console.print(f"  skipped {count:>6}  {reason}")
    unknown = report.get("unknown_genres", {})
    if unknown:
        shown = ", ".join(f"{k} ({v})" for k, v in list(unknown.items())[:10])
        console.print(f"  unknown genres dropped: {shown}")
    not_mapped = report.get("names_not_mapped", {})
    if not_mapped:
        shown = ", ".join(f"{k} ({v})" for k, v in list(not_mapped.items())[:10])
        console.print(f"  names not mapped on purpose (docs/TAXONOMY.md): {shown}")
    dup = report.get("duplicates", {})
    if dup.get("groups"):
        ident, near = dup.get("identical_groups", 0), dup.get("near_groups", 0)
        console.print(f"  duplicate groups: {ident} identical, {near} near, policy {dup['policy']}")
    counts = report.get("counts", {})
    levels = Table("level", "genres used", "in taxonomy", "albums", title="labels per level")
    for level, row in counts.get("per_level", {}).items():
        levels.add_row(level, str(row["genres_used"]), str(row["genres_in_taxonomy"]),
                       str(row["albums_with_a_label"]))  # fmt: skip
    console.print(levels)
    genres = Table("genre", "albums", title=f"top {top} genres (closed under ancestors)")
    for name, count in list(counts.get("per_genre", {}).items())[:top]:
        genres.add_row(name, str(count))
    console.print(genres)
    tail = counts.get("long_tail", {})
    if tail:
        console.print(
            f"long tail: {counts.get('genres_used', 0)} genres used, largest {tail['largest']}, "
            f"median {tail['median']:g}, top 5% of genres hold "
            f"{tail['top5pct_share_of_labels']:.0%} of labels, "
            f"{tail['genres_with_at_most_5_albums']} genres on <= 5 albums, "
            f"Gini {tail['gini']:.2f}; {counts.get('labels_per_album_closed', 0):.2f} labels/album"
        )
    single = counts.get("single_label_koenig12")
    if single:
        console.print(f"single-label (exactly one koenig12 genre): {single['albums']} albums "
                      f"({single['share']:.0%})")  # fmt: skip
