"""Imports point down: every module's imports of the package (top-level, function-local and
TYPE_CHECKING ones alike, read with `ast`) go to its own unit or to a lower layer.

The layers are drawn in docs/ARCHITECTURE.md ("Layers"); keep the two in step.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hiergenre"

# Bottom to top. A unit is a top-level module or sub-package of hiergenre ("hiergenre" is the
# package's own __init__, the facade for users). Units in one layer do not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "fileio", "runtime"),
    ("taxonomy", "metrics", "runfolder", "device"),  # runfolder: a run folder's guards, no torch
    ("tree",),  # the taxonomy as tensors: one home for decode, losses, heads and training
    ("data", "models", "decode", "losses", "baselines", "plots"),
    ("featcache",),  # a frozen encoder's features of every cover, computed once and cached
    ("inference",),  # pixels -> node probabilities: the one inference path
    ("evaluate",),  # metrics of a model's node probabilities
    ("train",),
    ("export",),
    ("predictor",),
    ("benchmark", "tagging", "library"),
    ("serve",),
    ("hiergenre",),
    ("cli",),
    ("__main__",),
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """hiergenre.data.manifest -> data; hiergenre -> hiergenre."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str, path: Path) -> set[str]:
    """Every hiergenre module `module` imports anywhere in its file (functions included)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:  # `from hiergenre import metrics` imports a module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m == "hiergenre" or m.startswith("hiergenre.")}


def upward_imports() -> dict[tuple[str, str], str]:
    """(importer, imported) -> why it is wrong, for every import that does not point down."""
    bad = {}
    for module, path in MODULES.items():
        here = unit(module)
        for target in imported(module, path):
            there = unit(target)
            if here == there:
                continue
            for name in (here, there):
                if name not in LAYER:
                    pytest.fail(f"unit {name!r} has no layer: add it to LAYERS here and to "
                                "docs/ARCHITECTURE.md")  # fmt: skip
            if LAYER[there] >= LAYER[here]:
                rel = "the same layer as" if LAYER[there] == LAYER[here] else "a layer above"
                bad[(module, target)] = f"{module} imports {target}, in {rel} {here}"
    return bad


def import_graph() -> nx.DiGraph:
    """Module -> module for every import of the package, function-local ones included."""
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        graph.add_edges_from((module, target) for target in imported(module, path))
    return graph


def module_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Every import cycle between modules (a function-local import hides one at run time, but
    it is still a loop a reader has to untangle)."""
    return [c for c in nx.simple_cycles(graph) if len(c) > 1]


def test_imports_point_down():
    bad = upward_imports()
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad.values()))


def test_no_import_cycles_between_modules():
    cycles = module_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles)


def test_the_cycle_finder_sees_a_loop_hidden_in_a_function():
    graph = nx.DiGraph([("hiergenre.train.fit", "hiergenre.train.runs")])
    assert module_cycles(graph) == []
    graph.add_edge("hiergenre.train.runs", "hiergenre.train.fit")  # e.g. `def f(): from .fit ...`
    assert sorted(module_cycles(graph)[0]) == ["hiergenre.train.fit", "hiergenre.train.runs"]


def test_the_parser_sees_local_relative_and_from_package_imports(tmp_path):
    """The checker catches the forms an upward import could hide in."""
    src = tmp_path / "hiergenre" / "taxonomy"
    src.mkdir(parents=True)
    (src / "x.py").write_text(
        "from hiergenre import metrics\n"
        "def f():\n"
        "    from hiergenre.train import fit\n"
        "    import hiergenre.cli.main\n"
        "    from ..data import manifest\n"
        "    from . import core\n"
    )
    got = imported("hiergenre.taxonomy.x", src / "x.py")
    assert {unit(m) for m in got} == {"metrics", "train", "cli", "data", "taxonomy"}
    assert [unit(m) for m in ("hiergenre.train.fit", "hiergenre")] == ["train", "hiergenre"]
