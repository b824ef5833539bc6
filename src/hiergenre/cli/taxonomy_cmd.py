"""`hiergenre taxonomy build|stats|export` and the top-level `hiergenre explain-taxonomy GENRE`."""

from __future__ import annotations

import inspect
import json
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table
from rich.tree import Tree

from hiergenre.cli.common import console, taxonomy_from_option
from hiergenre.taxonomy.build import build_table
from hiergenre.taxonomy.explain import (
    GenreExplanation,
    TaxonomyStats,
    TreeNode,
    explain_genre,
    taxonomy_stats,
)

taxonomy_app = typer.Typer(help="Build, inspect and export genre taxonomies.", no_args_is_help=True)

TaxonomyOption = typer.Option(
    None, "--taxonomy", help="Genre table (TSV genre<TAB>parent, .json or .graphml); default: MuMu."
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


class ExportFormat(str, Enum):
    json = "json"
    graphml = "graphml"
    tsv = "tsv"


def _echo_json(data: dict) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# --- taxonomy build ---------------------------------------------------------------------------
@taxonomy_app.command("build")
def build_cmd(
    out: Path = typer.Option(..., "--out", help="Where to write the genre table (TSV)."),
    from_metadata: Path | None = typer.Option(
        None, "--from-metadata", help="Amazon metadata: JSON array, JSON lines or Python dicts."
    ),
    from_labels: Path | None = typer.Option(
        None, "--from-labels", help="MuMu's multi-label CSV (one row per track)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Derive a genre table from Amazon `categories` paths or from label co-occurrence."""
    result, taxonomy = build_table(metadata=from_metadata, labels=from_labels, out=out)
    report = {k: v for k, v in result.report.items() if k != "albums_per_genre"}
    if as_json:
        _echo_json({"out": str(out), "root": result.root, "digest": taxonomy.digest, **report})
        return
    levels = [int((taxonomy.levels == lv).sum()) for lv in range(1, taxonomy.depth + 1)]
    console.print(
        f"[bold]{taxonomy.num_nodes}[/] genres under [bold]{result.root}[/], nodes per level "
        f"{levels}; wrote [green]{out}[/] (digest {taxonomy.digest})"
    )
    for key in ("records", "paths", "rows", "albums"):
        if key in report:
            console.print(f"  {key}: {report[key]}")
    if report.get("truncated"):
        console.print(f"  paths deeper than 4 levels, cut to 4: {report['truncated']}")
        for example in report["truncated_examples"]:
            console.print(f"    e.g. {example}", highlight=False)
    for c in report.get("conflicts", [])[:10]:
        votes = ", ".join(f"{p} {n}" for p, n in c["votes"].items())
        console.print(f"  several parents for {c['genre']}: chose {c['chosen']} ({votes})")
    for r in report.get("reattached", [])[:10]:
        console.print(f"  moved {r['genre']} from {r['was']} to {r['now']} ({r['why']})")
    for reason, n in report.get("skipped", {}).items():
        console.print(f"  skipped {n} x {reason}")
    for frag in report.get("stripped_fragments", []):
        console.print(f"  label {frag!r} had stray spaces (a fragment of a comma name?)")


# --- taxonomy stats ---------------------------------------------------------------------------
def _render_stats(stats: TaxonomyStats) -> None:
    console.print(
        f"[bold]{stats.num_nodes}[/] genres under [bold]{stats.root}[/], {stats.depth} levels, "
        f"{stats.num_leaves} leaves, {stats.num_branches} heads (digest {stats.digest})"
    )
    table = Table(title="Per level (branching over internal nodes)")
    for col in ("level", "nodes", "leaves", "internal", "children min", "mean", "max"):
        table.add_column(col, justify="right")
    for s in stats.levels:
        mean = "-" if s.children_mean is None else f"{s.children_mean:.2f}"
        table.add_row(
            str(s.level), str(s.nodes), str(s.leaves), str(s.internal),
            "-" if s.children_min is None else str(s.children_min), mean,
            "-" if s.children_max is None else str(s.children_max),
        )  # fmt: skip
    console.print(table)
    big = Table(title="Largest branches")
    for col in ("genre", "level", "children", "descendants", "leaves"):
        big.add_column(col, justify="left" if col == "genre" else "right")
    for b in stats.largest:
        big.add_row(b["name"], *(str(b[k]) for k in ("level", "children", "descendants", "leaves")))
    console.print(big)


@taxonomy_app.command("stats")
def stats_cmd(
    taxonomy: Path | None = TaxonomyOption,
    top: int = typer.Option(
        inspect.signature(taxonomy_stats).parameters["top"].default,
        "--top",
        min=1,
        help="How many of the largest branches to list.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Nodes and leaves per level, branching, and the largest branches."""
    stats = taxonomy_stats(taxonomy_from_option(taxonomy), top=top)
    if as_json:
        _echo_json(stats.to_dict())
    else:
        _render_stats(stats)


# --- taxonomy export --------------------------------------------------------------------------
@taxonomy_app.command("export")
def export_cmd(
    fmt: ExportFormat = typer.Option(..., "--format", help="json (node-link), graphml or tsv."),
    out: Path = typer.Option(..., "--out", help="File to write."),
    taxonomy: Path | None = TaxonomyOption,
) -> None:
    """Write the taxonomy as node-link JSON, GraphML or a genre<TAB>parent TSV."""
    tax = taxonomy_from_option(taxonomy)
    tax.save(out, fmt=fmt.value)
    console.print(
        f"wrote {_count(tax.num_nodes, 'genre', 'genres')} as {fmt.value} to [green]{out}[/]"
    )


# --- explain-taxonomy -------------------------------------------------------------------------
def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _label(node: TreeNode) -> str:
    parts = []
    if node.num_children:
        parts.append(f"{_count(node.num_children, 'child', 'children')}, ")
        parts[-1] += _count(node.num_leaves, "leaf", "leaves")
    else:
        parts.append("leaf")
    if node.albums is not None:
        parts.append(_count(node.albums, "album", "albums"))
    if node.hidden:
        parts.append(f"{node.hidden} hidden below")
    style = "bold" if node.num_children else ""
    name = f"[{style}]{node.name}[/]" if style else node.name
    return f"{name} [dim]({', '.join(parts)})[/]"


def _add_children(tree: Tree, node: TreeNode) -> None:
    for child in node.children:
        _add_children(tree.add(_label(child)), child)


def _render_explanation(ex: GenreExplanation) -> None:
    shown = ex.name if ex.query == ex.name else f"{ex.name} [dim](from {ex.query!r})[/]"
    console.print(f"[bold cyan]{shown}[/]  level {ex.level} of {ex.max_level}")
    console.print(f"[bold]path[/]      {' > '.join(ex.path)}", highlight=False)
    if ex.parent is not None:
        sibs = ", ".join(ex.siblings) if ex.siblings else "none"
        console.print(f"[bold]siblings[/]  {len(ex.siblings)}: {sibs}", highlight=False)
    genres, leaves = (
        _count(ex.num_descendants, "genre", "genres"),
        _count(ex.num_leaves, "leaf", "leaves"),
    )
    console.print(f"[bold]below[/]     {genres}, {leaves}")
    console.print(f"[bold]model[/]     {ex.head}", highlight=False)
    if ex.data is not None:
        console.print(
            f"[bold]albums[/]    {ex.albums} of {ex.data.albums} in {ex.data.source} "
            "(an album counts for every ancestor of its labels)",
            highlight=False,
        )
    tree = Tree(_label(ex.tree))
    _add_children(tree, ex.tree)
    console.print(tree)
    if ex.hidden:
        console.print(
            f"[dim]{ex.hidden} deeper nodes hidden by --depth {ex.depth}; "
            f"use --depth {ex.depth + 1} or more to show them[/]"
        )


def explain_taxonomy_cmd(
    genre: str = typer.Argument(..., help="A genre name, any spelling or alias (e.g. 'hip hop')."),
    depth: int = typer.Option(
        inspect.signature(explain_genre).parameters["depth"].default,
        "--depth",
        min=0,
        help="Levels of the subtree to show.",
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Dataset directory (with manifest.csv): count albums per node."
    ),
    as_json: bool = JsonOption,
    taxonomy: Path | None = TaxonomyOption,
) -> None:
    """Show a genre in context: path, level, subtree, siblings and what a model learns there."""
    tax = taxonomy_from_option(taxonomy)
    counts = None
    if data is not None:  # only with --data: the data layer (PIL, pandas) stays unloaded otherwise
        from hiergenre.data.report import count_albums

        counts = count_albums(data, tax)
    explanation = explain_genre(tax, genre, depth=depth, counts=counts)
    if as_json:
        _echo_json(explanation.to_dict())
    else:
        _render_explanation(explanation)
