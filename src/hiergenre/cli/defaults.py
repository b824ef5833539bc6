"""The library's defaults for the commands' options and help, read from the library's source.

A command's module must load without importing the library it calls: that pulls in torch (and
fastapi for `serve`), seconds and hundreds of MB before `hiergenre train flat --help` shows or a
refused `--out` says so (tests/test_train_cli.py). So the CLI reads the literal defaults of the
library's config dataclasses, constants and functions from their source files, the way
`cli.main.short_help` reads the commands' help; nothing is typed twice. Only literals are read
(numbers, strings, None, True/False, and tuples or dicts of them) and a name that refers to such
a constant of the same module; anything else raises, so a library change the reader cannot
follow fails the CLI's tests instead of going unnoticed (tests/test_cli_defaults.py compares
every option with the imported library).

    >>> library_value("train/config.py", "TrainConfig.epochs")
    8
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]  # src/hiergenre


@functools.cache
def _module(path: str) -> dict[str, ast.AST]:
    """Top-level names of a library module (relative to the package) -> their value nodes,
    classes and functions."""
    found: dict[str, ast.AST] = {}
    for node in ast.parse((PACKAGE / path).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            found.update({t.id: node.value for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found[node.target.id] = node.value
        elif isinstance(node, ast.ClassDef | ast.FunctionDef):
            found[node.name] = node
    return found


def _member(node: ast.AST, name: str) -> ast.AST | None:
    """A class's field default or attribute, or a function's parameter default."""
    if isinstance(node, ast.ClassDef):
        for item in node.body:
            targets = [item.target] if isinstance(item, ast.AnnAssign) else []
            targets += item.targets if isinstance(item, ast.Assign) else []
            if name in [getattr(t, "id", None) for t in targets]:
                return item.value
    elif isinstance(node, ast.FunctionDef):
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        with_default = positional[len(positional) - len(args.defaults) :]
        pairs = [*zip(with_default, args.defaults, strict=True),
                 *zip(args.kwonlyargs, args.kw_defaults, strict=True)]  # fmt: skip
        return next((value for arg, value in pairs if arg.arg == name), None)
    return None


def _literal(node: ast.AST | None, scope: dict[str, ast.AST], where: str) -> Any:
    if isinstance(node, ast.Name) and node.id in scope:
        return _literal(scope[node.id], scope, where)
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_literal(item, scope, where) for item in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k, scope, where): _literal(v, scope, where)
                for k, v in zip(node.keys, node.values, strict=True)}  # fmt: skip
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise LookupError(f"{where} is not a literal default the CLI can read") from None


def library_value(path: str, name: str) -> Any:
    """The value of `name` in the library module `path` (relative to src/hiergenre): `NAME` a
    module constant, `Class.field` a dataclass field's default or a class attribute,
    `function.param` a parameter's default."""
    scope = _module(path)
    head, _, member = name.partition(".")
    node = scope.get(head)
    if member:
        node = _member(node, member) if node is not None else None
    if node is None:
        raise LookupError(f"{path} defines no {name}: the CLI's defaults need updating")
    return _literal(node, scope, f"{path}: {name}")


def registered_models() -> dict[str, dict[str, Any]]:
    """Every model of the registry (`@register_model("name")` in models/*.py) -> the literal
    defaults of its config dataclass (the factory's `config` annotation, or the class given)."""
    models = {}
    for file in sorted((PACKAGE / "models").glob("*.py")):
        path = f"models/{file.name}"
        for node in _module(path).values():
            for call in getattr(node, "decorator_list", []):
                if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "register_model":
                    config = call.args[1] if len(call.args) > 1 else node.args.args[0].annotation
                    models[ast.literal_eval(call.args[0])] = _defaults(path, config)
    return models


def _defaults(path: str, annotation: ast.AST) -> dict[str, Any]:
    """The literal field defaults of the dataclass an annotation names (others are left out)."""
    name = annotation.value if isinstance(annotation, ast.Constant) else annotation.id
    fields = {}
    for item in _module(path)[name].body:
        if isinstance(item, ast.AnnAssign) and item.value is not None:
            try:
                fields[item.target.id] = library_value(path, f"{name}.{item.target.id}")
            except LookupError:  # field(default_factory=...): not a default the help shows
                continue
    return fields


def said(value: Any) -> str:
    """A default as the help writes it: 0.001, 0.25, 230, koenig-multilabel."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def choices(values: tuple) -> str:
    """`a | b | c`, how the help lists a choice."""
    return " | ".join(map(str, values))
