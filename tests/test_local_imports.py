"""Function-local imports only where docs/ARCHITECTURE.md allows them, each with its reason.

The CLI imports a command's library inside the command (so `hiergenre --help` stays fast): that is
the documented case for every module under `cli/`. In the library, an import inside a function is
allowed only for an optional or heavy dependency, and the line above it says why:
`# lazy: <reason>`. Anything else belongs at the top of its module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hiergenre"
MARK = "# lazy:"


def local_imports(path: Path) -> list[tuple[int, str]]:
    """(line, source line) of every import inside a function of `path`, except in a module's
    `__getattr__` (the lazy attribute loader of a package's facade)."""
    lines = path.read_text().split("\n")
    found = {}
    for fn in ast.walk(ast.parse("\n".join(lines), str(path))):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name != "__getattr__":
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found[node.lineno] = lines[node.lineno - 1].strip()
    return sorted(found.items())


def unexplained(path: Path) -> list[tuple[int, str]]:
    """The local imports of `path` with no `# lazy:` reason on their line or the line above."""
    lines = path.read_text().split("\n")
    return [(n, src) for n, src in local_imports(path)
            if MARK not in lines[n - 1] and MARK not in lines[n - 2]]  # fmt: skip


def library_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if p.relative_to(PACKAGE).parts[0] not in ("cli", "__main__.py")]  # fmt: skip


def test_library_local_imports_carry_a_reason():
    bad = [f"{path.relative_to(PACKAGE)}:{n}: {src}"
           for path in library_modules() for n, src in unexplained(path)]  # fmt: skip
    assert not bad, (
        "function-local imports without a `# lazy: <reason>` line above them; move them to the "
        "top of the module, or give the reason (an optional or heavy dependency):\n"
        + "\n".join(bad)
    )


def test_the_check_finds_an_unexplained_local_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n"
        "    # lazy: optional: onnx is in the test extra\n"
        "    import onnx\n"
        "    from hiergenre.train import load_run\n"
        "def __getattr__(name):\n"
        "    import importlib\n"
    )
    assert [n for n, _ in local_imports(module)] == [3, 4]
    assert [n for n, _ in unexplained(module)] == [4]
