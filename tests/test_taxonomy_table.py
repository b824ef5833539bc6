"""Genre table files: every malformed table gives a TaxonomyError that names the row."""

from __future__ import annotations

import json

import pytest

from hiergenre.errors import TaxonomyError
from hiergenre.taxonomy import Taxonomy, load_taxonomy
from hiergenre.taxonomy.table import format_table, read_table


def _write(tmp_path, text: str, name: str = "genres.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path, text: str, name: str = "genres.tsv") -> str:
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(_write(tmp_path, text, name))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_reads_header_comments_blank_lines_and_bom(tmp_path):
    text = "\ufeff# a comment\ngenre\tparent\n\nRock\tMusic\n# more\nHard Rock\tRock\n"
    root, parents, source = read_table(_write(tmp_path, text))
    assert root == "Music" and parents == {"Rock": "Music", "Hard Rock": "Rock"}
    assert source.endswith("genres.tsv")


def test_columns_may_be_reordered_and_extra(tmp_path):
    text = "parent\tnote\tgenre\nMusic\tx\tRock\nRock\t\tHard Rock\n"
    assert load_taxonomy(_write(tmp_path, text)).names == ("Rock", "Hard Rock")


def test_format_table_round_trip(tmp_path):
    parents = {"Rock": "Music", "Jazz": "Music", "Bebop": "Jazz"}
    assert load_taxonomy(_write(tmp_path, format_table(parents))).parents_dict() == {
        "Jazz": "Music", "Rock": "Music", "Bebop": "Jazz",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("genre\tparent\nA\tMusic\nB\tC\nC\tB\n", ["line 3", "cycle", "B -> C -> B"]),
        ("genre\tparent\nA\tMusic\nB\tA\nB\tMusic\n", ["line 4", "'B' has two parents", "line 3"]),
        ("genre\tparent\nA\tMusic\nB\tA\nB\tA\n", ["line 4", "duplicate genre 'B'"]),
        (
            "genre\tparent\nA\tMusic\nB\tA\nC\tB\nD\tC\nE\tD\n",
            ["line 6", "'E' is at level 5", "at most 4"],
        ),
        ("", ["is empty"]),
        ("\n# only a comment\n", ["is empty"]),
        ("genre\tfather\nA\tMusic\n", ["line 1", "missing column(s) parent"]),
        ("genre\tparent\n", ["no genres"]),
        ("genre\tparent\nA\tMusic\nB\n", ["line 3", "expected 2 tab-separated fields"]),
        ("genre\tparent\nA\tMusic\n\tMusic\n", ["line 3", "empty genre"]),
        ("genre\tparent\nA\tA\n", ["line 2", "its own parent"]),
        (
            "genre\tparent\nA\tMusic\nB\tA\nC\tOther\n",
            ["line 4", "2 roots", "'Music' (line 2)", "'Other' (line 4)"],
        ),
    ],
    ids=[
        "cycle", "two-parents", "duplicate", "depth-5", "empty", "only-comment",
        "missing-column", "header-only", "short-row", "empty-name", "self-parent", "two-roots",
    ],
)  # fmt: skip
def test_malformed_tables_name_the_row(tmp_path, text, expected):
    message = _error(tmp_path, text)
    assert "genres.tsv" in message
    for part in expected:
        assert part in message


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(TaxonomyError, match="does not exist"):
        load_taxonomy(tmp_path / "nope.tsv")
    (tmp_path / "latin1.tsv").write_bytes("genre\tparent\nM\xfasica\tMusic\n".encode("latin-1"))
    with pytest.raises(TaxonomyError, match="not UTF-8"):
        load_taxonomy(tmp_path / "latin1.tsv")


def test_malformed_json_and_graphml(tmp_path):
    links = [{"source": "Music", "target": "A"}, {"source": "A", "target": "B"},
             {"source": "Music", "target": "B"}]  # fmt: skip
    message = _error(tmp_path, json.dumps({"links": links}), "t.json")
    assert "t.json link 3" in message and "two parents" in message
    assert "broken JSON" in _error(tmp_path, "{not json", "t.json")
    assert "`links` list" in _error(tmp_path, "[1, 2]", "t.json")
    assert "GraphML" in _error(tmp_path, "<graphml><oops", "t.graphml")


def test_from_parents_validates_like_a_file():
    with pytest.raises(TaxonomyError, match="level 5"):
        Taxonomy.from_parents({"A": "M", "B": "A", "C": "B", "D": "C", "E": "D"})
    with pytest.raises(TaxonomyError, match="cycle"):
        Taxonomy.from_parents({"A": "M", "B": "C", "C": "B"})


def test_names_that_collide_after_normalisation(tmp_path):
    message = _error(tmp_path, "genre\tparent\nR&B\tMusic\nR and B\tMusic\n")
    assert "line 3" in message and "'R and B' differs from 'R&B' (line 2)" in message
