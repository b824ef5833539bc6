"""Reading and validating genre tables (`genre<TAB>parent`), with errors that name the row."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import networkx as nx

from hiergenre.errors import TaxonomyError
from hiergenre.taxonomy.aliases import normalize_genre

MAX_DEPTH = 4
SHIPPED_TABLE = "genres.tsv"
SHIPPED_ALIASES = "aliases.tsv"


@dataclass(frozen=True)
class GenreRow:
    """One row of a genre table; `line` is its 1-based line number in the file."""

    genre: str
    parent: str
    line: int


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TaxonomyError(f"taxonomy file {path} does not exist: check the path") from None
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy file {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TaxonomyError(f"{path} is not UTF-8 text: save it as UTF-8") from None


def parse_table(text: str, source: str = "<table>") -> list[GenreRow]:
    """Parse a TSV with columns `genre` and `parent` (header required) into rows."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise TaxonomyError(f"{source} is empty: a genre table needs a header `genre<TAB>parent`")
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows: list[GenreRow] = []
    header: list[str] | None = None
    for line_no, fields in enumerate(reader, start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [f.strip().lower() for f in fields]
            missing = [c for c in ("genre", "parent") if c not in header]
            if missing:
                raise TaxonomyError(
                    f"{source} line {line_no}: missing column(s) {', '.join(missing)}; "
                    "the header must be `genre<TAB>parent`"
                )
            continue
        g_col, p_col = header.index("genre"), header.index("parent")
        if len(fields) <= max(g_col, p_col):
            raise TaxonomyError(
                f"{source} line {line_no}: expected {len(header)} tab-separated fields, "
                f"got {len(fields)}"
            )
        genre, parent = fields[g_col].strip(), fields[p_col].strip()
        if not genre or not parent:
            raise TaxonomyError(f"{source} line {line_no}: empty genre or parent")
        rows.append(GenreRow(genre, parent, line_no))
    if not rows:
        raise TaxonomyError(f"{source} has a header but no genres")
    return rows


def validate_rows(
    rows: list[GenreRow], source: str = "<table>", unit: str = "line"
) -> tuple[str, dict[str, str]]:
    """Check the rows form one tree of depth <= 4; return (root, child -> parent).

    Errors name the offending row as `{source} {unit} {row.line}` (unit: `line`, `link`, `edge`).
    """
    parent_of, line_of = _check_rows(rows, source, unit)
    for genre in parent_of:  # a cycle never reaches a root
        seen = [genre]
        node = genre
        while node in parent_of:
            node = parent_of[node]
            if node in seen:
                cycle = " -> ".join(seen[seen.index(node) :] + [node])
                raise TaxonomyError(
                    f"{source} {unit} {line_of[genre]}: cycle {cycle}; "
                    "every genre must lead to the root"
                )
            seen.append(node)
    roots = sorted({p for p in parent_of.values() if p not in parent_of})
    if len(roots) != 1:
        first = {r: min(line_of[g] for g, p in parent_of.items() if p == r) for r in roots}
        roots.sort(key=first.get)
        shown = ", ".join(f"{r!r} ({unit} {first[r]})" for r in roots[:5])
        raise TaxonomyError(
            f"{source} {unit} {first[roots[1]]}: a second root; the table has {len(roots)} roots "
            f"({shown}); give every top-level genre the same parent"
        )
    root = roots[0]
    for genre in parent_of:
        depth, node = 0, genre
        while node != root:
            node, depth = parent_of[node], depth + 1
        if depth > MAX_DEPTH:
            raise TaxonomyError(
                f"{source} {unit} {line_of[genre]}: {genre!r} is at level {depth}; "
                f"at most {MAX_DEPTH} levels below the root are allowed"
            )
    return root, parent_of


def _check_rows(
    rows: list[GenreRow], source: str, unit: str
) -> tuple[dict[str, str], dict[str, int]]:
    """Row-local checks: duplicates, two parents, self-parents, names equal up to punctuation."""
    parent_of: dict[str, str] = {}
    line_of: dict[str, int] = {}
    by_key: dict[str, str] = {}
    for row in rows:
        where = f"{source} {unit} {row.line}"
        if row.genre in parent_of:
            first = line_of[row.genre]
            if parent_of[row.genre] != row.parent:
                raise TaxonomyError(
                    f"{where}: {row.genre!r} has two parents "
                    f"({parent_of[row.genre]!r} on {unit} {first}, {row.parent!r} here)"
                )
            raise TaxonomyError(f"{where}: duplicate genre {row.genre!r} (first on {unit} {first})")
        if row.genre == row.parent:
            raise TaxonomyError(f"{where}: {row.genre!r} is its own parent")
        other = by_key.setdefault(normalize_genre(row.genre), row.genre)
        if other != row.genre:
            raise TaxonomyError(
                f"{where}: {row.genre!r} differs from {other!r} ({unit} {line_of[other]}) only "
                "in case or punctuation; merge them or rename one"
            )
        parent_of[row.genre] = row.parent
        line_of[row.genre] = row.line
    return parent_of, line_of


def read_table(path: str | Path | None = None) -> tuple[str, dict[str, str], str]:
    """Read and validate a genre table (None: the shipped one); return (root, parents, source).

    `.json` (node-link) and `.graphml` files are read as `Taxonomy.save` writes them; anything
    else as a `genre<TAB>parent` TSV."""
    unit = "line"
    if path is None:
        text = resources.files("hiergenre.taxonomy").joinpath(SHIPPED_TABLE).read_text("utf-8")
        source = f"shipped {SHIPPED_TABLE}"
        rows = parse_table(text, source)
    else:
        path, source = Path(path), str(path)
        text = _read_text(path)
        if path.suffix.lower() == ".json":
            rows, unit = parse_node_link(text, source), "link"
        elif path.suffix.lower() == ".graphml":
            rows, unit = parse_graphml(text, source), "edge"
        else:
            rows = parse_table(text, source)
    root, parent_of = validate_rows(rows, source, unit)
    return root, parent_of, source


def _edge_rows(edges: list[tuple[str, str]], source: str) -> list[GenreRow]:
    """Rows from (parent, child) edges; `line` is the 1-based edge number."""
    if not edges:
        raise TaxonomyError(f"{source} has no edges: a taxonomy needs at least one genre")
    return [GenreRow(str(child), str(parent), i) for i, (parent, child) in enumerate(edges, 1)]


def parse_node_link(text: str, source: str = "<json>") -> list[GenreRow]:
    """Rows of a node-link JSON taxonomy (as `Taxonomy.save` writes); line = link number."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaxonomyError(f"{source} line {exc.lineno}: broken JSON ({exc.msg})") from None
    links = data.get("links", data.get("edges")) if isinstance(data, dict) else None
    if not isinstance(links, list):
        raise TaxonomyError(f"{source}: expected node-link JSON with a `links` list")
    edges = []
    for i, link in enumerate(links, 1):
        if not isinstance(link, dict) or "source" not in link or "target" not in link:
            raise TaxonomyError(f"{source} link {i}: needs `source` (parent) and `target` (child)")
        edges.append((link["source"], link["target"]))
    return _edge_rows(edges, source)


def parse_graphml(text: str, source: str = "<graphml>") -> list[GenreRow]:
    """Rows of a GraphML taxonomy with edges parent -> child; line = edge number."""
    try:
        graph = nx.parse_graphml(text)
    except Exception as exc:  # networkx raises several types for broken XML
        raise TaxonomyError(f"{source}: not a readable GraphML file ({exc})") from None
    if not graph.is_directed():
        raise TaxonomyError(f"{source}: the GraphML graph must be directed (parent -> child)")
    return _edge_rows(list(graph.edges()), source)


def read_aliases(path: str | Path | None = None) -> dict[str, str]:
    """Read an `alias<TAB>genre` table (None: the shipped one)."""
    if path is None:
        text = resources.files("hiergenre.taxonomy").joinpath(SHIPPED_ALIASES).read_text("utf-8")
    else:
        text = _read_text(Path(path))
    aliases: dict[str, str] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line_no == 1 and line.startswith("alias\t"):
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise TaxonomyError(f"aliases line {line_no}: expected `alias<TAB>genre`")
        aliases[fields[0]] = fields[1].strip()
    return aliases


def format_table(parent_of: dict[str, str]) -> str:
    """Write child -> parent pairs back as a TSV genre table."""
    lines = ["genre\tparent"] + [f"{child}\t{parent}" for child, parent in parent_of.items()]
    return "\n".join(lines) + "\n"
