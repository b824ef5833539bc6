"""Discogs genre and style names -> taxonomy nodes, from the shipped `discogs.tsv`.

Discogs labels a release with genres (`Rock`, `Funk / Soul`, `Folk, World, & Country`) and
styles (`Hard Rock`, `RnB/Swing`); collections write them as Discogs does or squeezed
(`hardrock`, `funksoul`, `rnbswing`). The table lists every Discogs genre and style once or more:
`discogs<TAB>genre<TAB>within<TAB>note`. `genre` is the node (empty: deliberately not mapped, the
note says why); `within`, when set, is a level-1 node the release must already carry for that
row to apply (a style Discogs files under several genres maps per genre: `Experimental` on an
electronic record is Electronica, on a hip hop record Experimental Rap); the row without `within`
is the default. Names are matched by a key that ignores case, accents, punctuation and the word
`and`, so `Rock & Roll`, `rock and roll` and `rockroll` are one name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hiergenre.errors import TaxonomyError
from hiergenre.taxonomy.aliases import lenient_key
from hiergenre.taxonomy.core import Taxonomy

SHIPPED_DISCOGS = "discogs.tsv"


def discogs_key(name: str) -> str:
    """Comparison key of a Discogs name: `'Folk, World, & Country'` -> `'folkworldcountry'`."""
    return lenient_key(name)


@dataclass(frozen=True)
class DiscogsRow:
    """One line of the table: `name` maps to `genre` ('' = not mapped) when `within` holds."""

    name: str
    genre: str
    within: str
    note: str


def read_discogs_table(path: str | Path | None = None) -> list[DiscogsRow]:
    """The rows of a `discogs<TAB>genre<TAB>within<TAB>note` table (None: the shipped one)."""
    if path is None:
        file = resources.files("hiergenre.taxonomy").joinpath(SHIPPED_DISCOGS)
        text = file.read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        header = line_no == 1 and line.startswith("discogs\t")
        if not line.strip() or line.startswith("#") or header:
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise TaxonomyError(f"discogs table line {line_no}: expected 4 tab-separated fields")
        rows.append(DiscogsRow(*(f.strip() for f in fields)))
    return rows


class DiscogsNames:
    """Resolves the names of a Discogs-labelled release onto a taxonomy's nodes.

    Rows whose node (or `within` node) the taxonomy lacks are left out, so a custom taxonomy falls
    back to its own names and aliases for them.
    """

    def __init__(self, taxonomy: Taxonomy, rows: Sequence[DiscogsRow] | None = None):
        self.taxonomy = taxonomy
        self._rows: dict[str, list[DiscogsRow]] = {}
        for row in read_discogs_table() if rows is None else rows:
            if row.genre and row.genre not in taxonomy.names:
                continue
            if row.within and row.within not in taxonomy.names:
                continue
            self._rows.setdefault(discogs_key(row.name), []).append(row)

    def rows(self, name: str) -> list[DiscogsRow]:
        """The table's rows for a name (empty when the table does not list it)."""
        return self._rows.get(discogs_key(name), [])

    def resolve_album(self, names: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        """(nodes, unknown names, names deliberately not mapped) for one release.

        Names with one unconditional row (or none: then the taxonomy's own names and aliases)
        resolve first; the level-1 genres they give decide the rows with a `within`.
        """
        nodes: list[str] = []
        unknown: list[str] = []
        ignored: list[str] = []
        later: list[tuple[str, list[DiscogsRow]]] = []
        for name in names:
            rows = self.rows(name)
            if any(r.within for r in rows):
                later.append((name, rows))
                continue
            node = rows[0].genre if rows else self.taxonomy.try_resolve(name)
            if rows and not node:
                ignored.append(name)
            elif node is None:
                unknown.append(name)
            elif node not in nodes:
                nodes.append(node)
        context = {self.taxonomy.path(n)[0] for n in nodes}
        for name, rows in later:
            chosen = next((r for r in rows if r.within in context), None)
            chosen = chosen or next((r for r in rows if not r.within), None)
            if chosen is None or not chosen.genre:
                ignored.append(name)
            elif chosen.genre not in nodes:
                nodes.append(chosen.genre)
        return nodes, unknown, ignored
