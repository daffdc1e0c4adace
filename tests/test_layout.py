"""The layout's rules that a reader of the code could break without noticing (docs/architecture.md):
imports sit at module level, except a heavy package's (or a module that loads one) imported where it
is used so that a command loads only what it needs. The rooms' order itself is checked by
`lint-imports` in CI (.importlinter)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import ordersync

SRC = Path(ordersync.__file__).parent
#: what ruff bans at module level (pyproject.toml, TID253): the heavy packages and the modules of
#: ours that load one, the only imports a function may make
_BANNED = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"][
    "flake8-tidy-imports"
]["banned-module-level-imports"]
HEAVY = tuple(m for m in _BANNED if not m.startswith("ordersync"))
#: and modules whose import loads a heavy package without being banned themselves
LOADS_HEAVY = (
    *(m for m in _BANNED if m.startswith("ordersync")),
    "ordersync.serve.process",
    "ordersync.warehouse.duckdb",
    "ordersync.warehouse.postgres",
)


def _function_imports(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                found += [(inner.lineno, a.name) for a in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module:
                found.append((inner.lineno, inner.module))
    return found


def _allowed(module: str) -> bool:
    return module.split(".")[0] in HEAVY or module.startswith(LOADS_HEAVY)


def test_imports_inside_functions_are_only_the_heavy_ones() -> None:
    stray = []
    for path in sorted(SRC.rglob("*.py")):
        if "simulator" in path.relative_to(SRC).parts:
            continue  # outside the ladder: a stand-in for VTEX and the phones
        for line, module in _function_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not _allowed(module):
                stray.append(f"{path.relative_to(SRC)}:{line} imports {module} inside a function")
    assert not stray, "\n".join(stray)


def test_the_check_finds_an_import_inside_a_function() -> None:
    tree = ast.parse("def f():\n    import json\n    import duckdb\n")
    assert [m for _, m in _function_imports(tree) if not _allowed(m)] == ["json"]
