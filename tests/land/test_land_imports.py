"""Land sits above the sources on the ladder: no module of land imports one (the VTEX head decoder is
land's own, and the quarantine's retry is handed the source parsers and clients it needs)."""

from __future__ import annotations

import ast
from pathlib import Path

import ordersync.land

LAND = Path(ordersync.land.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_land_imports_no_source() -> None:
    reaching = {
        f"{path.name}: {name}"
        for path in sorted(LAND.rglob("*.py"))
        for name in _imports(path)
        if name.startswith(("ordersync.sources", "ordersync.extract"))
    }
    assert not reaching
