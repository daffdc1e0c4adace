"""Loaded by every Python process the tests start (tests/conftest.py puts this folder on their
PYTHONPATH): when the test run shares one dbt parse (TESTS_SHARED_DBT_PARSE names its folder), a
dbt invocation in this process is seeded with it, as the test processes' own are (support/dbt_parse.py),
instead of parsing the whole project again for its warehouse. dbt is not imported for it: the seeding
is put in place when the process itself imports dbt's runner."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_RUNNER = "dbt.cli.main"


class _SeedWhenDbtLoads(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _RUNNER:
            return None
        sys.meta_path.remove(self)  # once: the real finders find the module
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            _seed_invocations(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _seed_invocations(runner_module: Any) -> None:
    sys.path.insert(0, os.environ["TESTS_DIR"])
    try:
        from support import dbt_parse
    finally:
        sys.path.pop(0)
    dbt_parse.seed_this_process(os.environ["TESTS_SHARED_DBT_PARSE"], os.environ.get("TESTS_PG_ADMIN_URL", ""))


if os.environ.get("TESTS_SHARED_DBT_PARSE") and os.environ.get("TESTS_DIR"):
    sys.meta_path.insert(0, _SeedWhenDbtLoads())
