"""One module per trial; each registers itself when imported."""

from __future__ import annotations

import importlib

MODULES = (
    "kill", "pg_restart", "freeze", "faults", "diskfull", "badinput", "push", "hostile", "hook", "feed", "notices",
    "plans", "customers",
)  # fmt: skip


def load_all() -> None:
    for name in MODULES:
        importlib.import_module(f"chaoslib.trials.{name}")
