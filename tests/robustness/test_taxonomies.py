"""Broken genre tables through `--taxonomy FILE`: one line naming the row and the fix, exit 2."""

from __future__ import annotations

import pytest

HEAD = "genre\tparent\n"
TABLES = {
    "cycle": (HEAD + "Rock\tMusic\nA\tB\nB\tC\nC\tA\n", ["cycle", "A -> B -> C -> A"]),
    "two-parents": (HEAD + "Rock\tMusic\nJazz\tMusic\nFusion\tRock\nFusion\tJazz\n",
                    ["line 5", "'Fusion' has two parents"]),
    "depth-5": (HEAD + "L1\tMusic\nL2\tL1\nL3\tL2\nL4\tL3\nL5\tL4\n",
                ["line 6", "'L5' is at level 5", "at most 4 levels"]),
    "duplicate": (HEAD + "Rock\tMusic\nPunk\tRock\nPunk\tRock\n",
                  ["line 4", "duplicate genre 'Punk'", "first on line 3"]),
    "empty": ("", ["is empty", "genre<TAB>parent"]),
    "blank-lines-only": ("\n\n  \n# a comment\n", ["is empty"]),
    "header-only": (HEAD, ["no genres"]),
    "no-header": ("Rock\tMusic\nPunk\tRock\n", ["missing column(s)"]),
    "two-roots": (HEAD + "Rock\tMusic\nJazz\tAudio\n", ["a second root"]),
    "self-parent": (HEAD + "Rock\tMusic\nPunk\tPunk\n", ["its own parent"]),
}  # fmt: skip
COMMANDS = {
    "explain-taxonomy": ("explain-taxonomy", "Rock"),
    "taxonomy stats": ("taxonomy", "stats"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(TABLES))
def test_broken_table_is_refused_with_one_line(cli, tmp_path, case, command):
    text, needles = TABLES[case]
    path = tmp_path / f"{case}.tsv"
    path.write_text(text, encoding="utf-8")
    cli(*COMMANDS[command], "--taxonomy", path).assert_user_error(*needles)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_missing_and_non_utf8_tables(cli, tmp_path, command):
    cli(*COMMANDS[command], "--taxonomy", tmp_path / "nope.tsv").assert_user_error("does not exist")
    latin = tmp_path / "latin.tsv"
    latin.write_bytes((HEAD + "Caf\u00e9\tMusic\n").encode("latin-1"))
    cli(*COMMANDS[command], "--taxonomy", latin).assert_user_error("not UTF-8")


def test_a_sound_table_still_works(cli, small_taxonomy):
    result = cli("explain-taxonomy", "punk", "--taxonomy", small_taxonomy)
    assert result.code == 0, result.text
    assert "Rock" in result.out and "Punk" in result.out
    stats = cli("taxonomy", "stats", "--taxonomy", small_taxonomy, "--json")
    assert stats.code == 0 and '"num_nodes": 5' in stats.out and '"depth": 2' in stats.out
