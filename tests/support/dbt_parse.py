"""One dbt parse of the shipped project per test run, given to every warehouse's state folder.

dbt keeps its parse in `target/partial_parse.msgpack` and reuses it only when the profile's
connection values hash the same (`state_check.profile_hash`, dbt/parser/manifest.py), so every test
warehouse (a file or a database of its own) would make its first build parse the whole project
again: about 1 s on a quiet machine, 3-5 s while the suite runs. Rendering the profile's values
from env_var() does not help: dbt hashes the rendered credentials.

A parse differs from one warehouse to another in that hash and in the database name only (each
node's `database`, `relation_name`, and the `{{ this }}` rendered into the post-hooks), so
`seed(target_path, profile)` writes the run's parse into a target folder with those rewritten: the
first build finds a parse equal to the one a full parse would have written (the test
tests/transform/test_shared_parse.py compares them) and goes straight to the build, like every
later build of a warehouse. A warehouse that differs in anything else (another port, a search_path)
and a project of one's own get no seed: dbt parses them in full.

`seeding()` (tests/conftest.py, when the session runs dbt tests) seeds every in-process dbt
invocation of the shipped project whose target folder has no parse yet, just before dbt starts:
builds through the facade, the runner or a fixture alike. A process the tests start (a command,
serve, a worker, a chaos trial's) is seeded the same way by support/childsite/sitecustomize.py,
reading the parses the test processes made. The parse itself is made once per run and backend, by
the first xdist worker to get there, under a file lock in the run's base temporary folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import pprint
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
import psycopg
import yaml  # type: ignore[import-untyped]

from ordersync.config import WarehouseSettings
from ordersync.transform import PROJECT_DIR, run_dbt
from ordersync.warehouse import open_warehouse

#: The parse file dbt reads from `<state_dir>/target`.
PARSE_FILE = "partial_parse.msgpack"
#: Connection values that may differ between the run's parse and a warehouse that gets it.
_PER_WAREHOUSE = frozenset({"database", "path"})
#: A selection that matches no node: the template build parses and runs nothing.
_NOTHING = "tag:ordersync_test_parse_only"

_root: Path | None = None
_pg_admin_url: str | None = None
_paused = False
#: a process the tests started: each backend's parse is read when first needed, never made
_lazy = False
#: This process's copy of each backend's parse (read once), None where it could not be made.
_templates: dict[str, dict[str, Any] | None] = {}


def configure(root: Path, pg_admin_url: str) -> None:
    """Where the run's parses live (a folder every worker of the run shares) and the PostgreSQL
    server the PostgreSQL parse connects to; called once per session by tests/conftest.py."""
    global _root, _pg_admin_url
    _root, _pg_admin_url = root, pg_admin_url


def seed(target_path: Path, profile: Mapping[str, Any]) -> bool:
    """Give dbt's `target_path` the run's parse, rewritten for `profile` (the profile output dbt
    reads); False (nothing written) when the folder has a parse already or the warehouse differs
    from the parse's in more than its database."""
    path = Path(target_path) / PARSE_FILE
    backend = str(profile.get("type"))
    if _root is None or _paused or path.exists() or backend not in ("duckdb", "postgres"):
        return False
    if _lazy and backend not in _templates:
        _templates[backend] = _made(backend)
    template = _templates.get(backend)
    if template is None:
        return False  # seeding() made none (it cannot be made inside an invocation: the runner's lock)
    old, new = template["connection"], _connection(profile)
    if _shared(old) != _shared(new):
        return False
    parse = template["parse"]
    if parse["state_check"]["profile_hash"]["checksum"] != template["checksum"]:
        return False  # dbt hashes the profile otherwise than _checksum: a seed would never match
    rewritten = _rewrite(parse, (old["database"], new["database"]), template["checksum"], _checksum(new))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(msgpack.packb(rewritten, use_bin_type=True))
    tmp.replace(path)
    return True


@contextlib.contextmanager
def seeding() -> Iterator[None]:
    """Seed every in-process dbt invocation of the shipped project while the block runs."""
    from dbt.cli.main import dbtRunner

    for backend in ("duckdb", "postgres"):
        try:
            _templates[backend] = _template(backend)
        except Exception:  # no PostgreSQL server, say: its tests fail on their own, the rest run
            _templates[backend] = None
    original = _seed_runner(dbtRunner)
    try:
        yield
    finally:
        dbtRunner.invoke = original  # type: ignore[method-assign]


def seed_this_process(root: str, pg_admin_url: str) -> None:
    """Seed the dbt invocations of a process the tests started (support/childsite/sitecustomize.py)
    with the run's parses, read from `root` when first needed (a parse not made yet is not made)."""
    from dbt.cli.main import dbtRunner

    global _lazy
    configure(Path(root), pg_admin_url)
    _lazy = True
    _seed_runner(dbtRunner)


def _seed_runner(runner: Any) -> Any:
    """Make `runner.invoke` seed each invocation first; the original invoke."""
    original = runner.invoke

    def invoke(self: Any, args: list[str], **kwargs: Any) -> Any:
        with contextlib.suppress(Exception):  # a profile dbt itself will refuse, in its own words
            _seed_invocation(args)
        return original(self, args, **kwargs)

    runner.invoke = invoke
    return original


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No seed while the block runs: dbt parses in full (what the seed is compared with)."""
    global _paused
    _paused = True
    try:
        yield
    finally:
        _paused = False


def comparable(path: Path) -> dict[str, Any]:
    """The parse in dbt's file `path`, without what differs between two parses of the same
    project for the same warehouse (the metadata's times and ids, each node's created_at)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("metadata", "created_at")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    parse: dict[str, Any] = strip(msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False))
    return parse


# -- helpers --------------------------------------------------------------------------------------------


def _seed_invocation(args: list[str]) -> None:
    """Seed the invocation `args` (the runner's: --project-dir, --profiles-dir, --target-path)."""
    from dbt.config.renderer import ProfileRenderer

    flags = dict(itertools.pairwise(args))
    if not {"--project-dir", "--profiles-dir", "--target-path"} <= flags.keys():
        return
    if Path(flags["--project-dir"]).resolve() != PROJECT_DIR.resolve():
        return  # a project of one's own parses its own files too
    raw = yaml.safe_load((Path(flags["--profiles-dir"]) / "profiles.yml").read_text(encoding="utf-8"))
    (profile,) = ProfileRenderer({}).render_data(raw).values()  # the password's variable is set now
    seed(Path(flags["--target-path"]), profile["outputs"][profile["target"]])


def _shared(connection: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in connection.items() if k not in _PER_WAREHOUSE}


def _profile(target: Mapping[str, Any]) -> dict[str, Any]:
    """The profile output the runner writes for `target` (transform/runner.py run_dbt)."""
    profile = dict(target)
    if profile.get("type") == "duckdb":
        profile["keep_open"] = False
    return profile


def _connection(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The connection values dbt hashes into `profile_hash`, as dbt reads them from the profile."""
    from dbt.adapters.factory import load_plugin

    data = {k: v for k, v in profile.items() if k not in ("type", "threads")}
    credentials = load_plugin(str(profile["type"]))
    values = credentials.from_dict(credentials.translate_aliases(data))
    return dict(values.connection_info())


def _checksum(connection: Mapping[str, Any]) -> str:
    """dbt's `profile_hash` of these connection values (ManifestLoader.build_manifest_state_check)."""
    from dbt.artifacts.resources.base import FileHash

    return str(FileHash.from_contents(pprint.pformat(sorted(connection.items()))).checksum)


def _rewrite(value: Any, database: tuple[str, str], old_sum: str, new_sum: str, key: Any = None) -> Any:
    """`value` with the profile checksum replaced and the database renamed: a `database` field
    equal to the old name, and the old name quoted as the first part of a relation in any text."""
    if isinstance(value, dict):
        return {k: _rewrite(v, database, old_sum, new_sum, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, database, old_sum, new_sum, key) for v in value]
    if not isinstance(value, str):
        return value
    if value == old_sum:
        return new_sum
    old, new = database
    if old == new:
        return value
    if key == "database" and value == old:
        return new
    return value.replace(f'"{old}".', f'"{new}".')


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _template(backend: str) -> dict[str, Any]:
    """The run's parse for `backend`: its file, profile, connection values and checksum; made on first
    use."""
    assert _root is not None
    folder = _root / f"dbt-parse-{backend}"
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "parse.json"
    with _locked(folder / ".lock"):
        if not meta.exists():
            profile = _parse(backend, folder)
            made = {"file": str(folder / "state" / "target" / PARSE_FILE), "profile": profile}
            meta.write_text(json.dumps(made))  # a profile output is JSON: the runner writes it so
    return _read(meta)


def _made(backend: str) -> dict[str, Any] | None:
    """The run's parse for `backend` if a test process made it, else None."""
    assert _root is not None
    meta = _root / f"dbt-parse-{backend}" / "parse.json"
    return _read(meta) if meta.exists() else None


def _read(meta: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(meta.read_text())
    loaded["connection"] = _connection(loaded["profile"])
    loaded["checksum"] = _checksum(loaded["connection"])
    loaded["parse"] = msgpack.unpackb(Path(loaded["file"]).read_bytes(), raw=False, strict_map_key=False)
    return loaded


def _parse(backend: str, folder: Path) -> dict[str, Any]:
    """Parse the shipped project against an empty warehouse of `backend`; its profile output."""
    if backend == "duckdb":
        wh = open_warehouse(WarehouseSettings(url=str(folder / "wh.duckdb")))
        try:
            target = wh.dbt_target()
        finally:
            wh.close()
        run_dbt(target, "build", state_dir=folder / "state", select=_NOTHING)
        return _profile(target)
    assert _pg_admin_url is not None
    name = f"ordersync_parse_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_pg_admin_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        wh = open_warehouse(WarehouseSettings(url=f"{_pg_admin_url.rpartition('/')[0]}/{name}"))
        try:
            target = wh.dbt_target()
        finally:
            wh.close()
        run_dbt(target, "build", state_dir=folder / "state", select=_NOTHING)
        return _profile(target)
    finally:
        with psycopg.connect(_pg_admin_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
