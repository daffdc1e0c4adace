"""Recognisable secret values the trials hand to ordersync, and the scan that proves none leaked.

Every trial gives its store credentials and (on PostgreSQL) its warehouse password these values; every
file a trial leaves in its folder (command output, worker logs, dbt logs and artefacts) is scanned
for them afterwards. The server trusts local connections, so the password is sent but never needed.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

APP_KEY = "vtexappkey-chaos-KEY-7Qx2"
APP_TOKEN = "chaos-TOKEN-sEcReT-91zq"
PG_PASSWORD = "chaos-PW-hunter2-5kV"
KEY_ENV, TOKEN_ENV = "CHAOS_APP_KEY", "CHAOS_APP_TOKEN"

SECRETS: tuple[str, ...] = (APP_KEY, APP_TOKEN, PG_PASSWORD)

# Files that are data, not output: the warehouse itself may hold anything a store sent.
_SKIP_SUFFIXES = (".duckdb", ".duckdb.wal", ".wal", ".tmp")
# dbt reads the warehouse password from the profile ordersync generates; it must be private (0600).
_PROFILE = "profiles.yml"
_MAX_SCAN = 64 * 1024 * 1024


def _needles() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for secret in SECRETS:
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            out.append((secret, form.encode()))
    return out


def scan(root: Path) -> list[str]:
    """Every (file, secret) where a secret appears under `root`, as 'path: holds <which>'."""
    leaks: list[str] = []
    needles = _needles()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.endswith(_SKIP_SUFFIXES) or path.stat().st_size > _MAX_SCAN:
            continue
        if path.name == _PROFILE:
            if path.stat().st_mode & 0o077:
                leaks.append(f"{path.relative_to(root)}: the dbt profile is readable by others")
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found = sorted({name for name, needle in needles if needle in data})
        for name in found:
            which = "the warehouse password" if name == PG_PASSWORD else "a store credential"
            leaks.append(f"{path.relative_to(root)}: holds {which}")
    return leaks


def mask(text: str) -> str:
    """`text` with every secret replaced: for the harness's own messages."""
    for _, needle in _needles():
        text = text.replace(needle.decode(), "***")
    return text
