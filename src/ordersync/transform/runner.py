"""Run the packaged dbt project in-process, against a profile generated from ordersync's settings.

The project folder inside the package is only read: dbt's target, logs and partial-parse state,
and the generated profiles.yml, all live in `state_dir`. The profile never holds the warehouse
password: it reads it from an environment variable set only while dbt runs in this process. A
project of one's own (`[dbt] project_dir`) gets only what `dbt deps` writes into it
(dbt_packages/, package-lock.yml); see transform/project.py.

DuckDB allows one open configuration per database file: dbt connects with the configuration of
ordersync's own connections (the target's config_options) and so joins the process's database
instance; a caller holding a connection of another configuration (read-only) closes it first and
drops config_options from the target.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ordersync.errors import TransformError
from ordersync.transform import project as own
from ordersync.transform.dbt_invoke import (
    INVOKE_LOCK,
    PROFILE_NAME,
    PROJECT_DIR,
    SECRET_ENVS,
    TARGET_NAME,
    EnvValue,
    env,
    envs,
    invoke,
    one_line,
    state_dir_lock,
    write_profiles,
)

DbtCommand = Literal["build", "run", "test"]

#: Node statuses that mean the node did what it should.
_OK_STATUSES = frozenset({"success", "pass", "no-op"})
#: The environment variable a build's values reach the models in (macros/build_var.sql): passed as
#: --vars, a value that changes every build (built_at, the ledger range) would make dbt parse the
#: whole project again on every build instead of only the files that read it.
BUILD_VARS_ENV = "ORDERSYNC_DBT_BUILD"


@dataclass(frozen=True)
class NodeResult:
    """The outcome of one dbt node (a model or a data test)."""

    name: str
    unique_id: str
    resource_type: str
    status: str
    message: str | None
    seconds: float
    failures: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in _OK_STATUSES


@dataclass(frozen=True)
class DbtResult:
    """What one dbt invocation did: every node's outcome and the wall time."""

    command: str
    nodes: tuple[NodeResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nodes)

    @property
    def failed(self) -> tuple[NodeResult, ...]:
        return tuple(n for n in self.nodes if not n.ok)

    def node(self, name: str) -> NodeResult:
        """The result of the node called `name` (a model's name or a test's name); ordersync's own
        when a project of one's own has a node of the same name."""
        named = [n for n in self.nodes if n.name == name]
        for n in named:
            if n.unique_id.split(".")[1:2] == ["ordersync"]:
                return n
        if named:
            return named[0]
        raise KeyError(f"no dbt node named {name!r} in this {self.command}")


def run_dbt(
    target: Mapping[str, Any],
    command: DbtCommand = "build",
    *,
    state_dir: Path,
    lookback_days: float = 3.0,
    full_refresh: bool = False,
    select: str | None = None,
    verbose: bool = False,
    extra_vars: Mapping[str, Any] | None = None,
    project_dir: Path | None = None,
) -> DbtResult:
    """Run `dbt <command>` on the packaged project against `target` (a dbt profile output,
    e.g. `Warehouse.dbt_target()`); raise TransformError naming every node that failed.

    `full_refresh` rebuilds the views; fct_orders is configured `full_refresh: false` and keeps
    its rows whatever this flag says. `verbose` lets dbt log to the console. `extra_vars` are
    passed to dbt beside `lookback_days` (e.g. the ledger range `ledger_from`, `ledger_to` that
    transform/build.py gives fct_orders); they must be JSON values. `project_dir` builds a dbt project
    of one's own (`ordersync dbt init`) that depends on the shipped one, instead of the shipped one:
    `dbt deps` runs first when its packages are not installed (transform/project.py), and a build or
    run without a selection fails unless every shipped model ran.
    """
    if not (math.isfinite(lookback_days) and lookback_days >= 0):
        raise TransformError(f"lookback_days must be a finite number >= 0, got {lookback_days}")
    dbt_vars: dict[str, Any] = dict(extra_vars or {})
    if "lookback_days" in dbt_vars:
        raise TransformError("pass lookback_days as run_dbt's own argument, not in extra_vars")
    dbt_vars["lookback_days"] = float(lookback_days)
    try:
        vars_json = json.dumps(dbt_vars, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TransformError(f"dbt vars must be JSON values: {exc}") from exc
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    args = [
        command,
        "--profiles-dir",
        str(state_dir),
        "--profile",
        PROFILE_NAME,
        "--target",
        TARGET_NAME,
        "--target-path",
        str(state_dir / "target"),
        "--log-path",
        str(state_dir / "logs"),
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
        "--no-use-colors",
        "--log-level",
        "info" if verbose else "none",
        "--log-level-file",
        "debug",
    ]
    if command != "test":
        # manifest.json and run_results.json are dbt's artifacts for other tools; nothing reads
        # them after a build (the partial parse file is written apart), and writing the manifest
        # twice a build was a third of a warm build's time. verify's `dbt test` keeps them.
        args.append("--no-write-json")
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]

    profile_target = dict(target)
    if profile_target.get("type") == "duckdb":
        # dbt-duckdb otherwise keeps the file open in this process after the run, and the caller
        # could not reopen it with its own configuration.
        profile_target["keep_open"] = False

    secrets = {SECRET_ENVS[k]: str(profile_target[k]) for k in SECRET_ENVS if profile_target.get(k)}
    for key in SECRET_ENVS:
        if profile_target.get(key):
            profile_target[key] = EnvValue(SECRET_ENVS[key])

    with (
        INVOKE_LOCK,
        state_dir_lock(state_dir),
        own.package_env(),
        env(BUILD_VARS_ENV, vars_json),
        envs(secrets),
    ):
        started = time.monotonic()
        root = own.prepare(project_dir, state_dir) if project_dir else PROJECT_DIR
        write_profiles(state_dir, profile_target)
        outcome = invoke([args[0], "--project-dir", str(root), *args[1:]])
        seconds = time.monotonic() - started

    nodes = tuple(_node_result(r) for r in getattr(outcome.result, "results", None) or ())
    result = DbtResult(command=command, nodes=nodes, seconds=seconds)
    if outcome.exception is not None:
        raise TransformError(
            f"dbt {command} failed: {one_line(str(outcome.exception))} (log: {state_dir / 'logs'})"
        ) from outcome.exception
    if not result.ok or not outcome.success:
        causes = [n for n in result.failed if n.status != "skipped"]
        failed = "; ".join(f"{n.name} {n.status}: {one_line(n.message or '')}" for n in causes)
        skipped = len(result.failed) - len(causes)
        if skipped:
            failed += f" ({skipped} downstream node{'s' if skipped > 1 else ''} skipped)"
        raise TransformError(f"dbt {command} failed: {failed or 'see the log'} (log: {state_dir / 'logs'})")
    missing = sorted(own.shipped_models() - {n.unique_id for n in nodes}) if command != "test" and not select else []
    if missing:
        # the build (transform/build.py) would otherwise move the ledger cursor past versions fct_orders never read.
        names = ", ".join(m.rsplit(".", 1)[1] for m in missing)
        raise TransformError(
            f"dbt {command} of {root} did not run ordersync's models {names}: its packages.yml must list "
            "ordersync's package and its dbt_project.yml keep their models enabled"
        )
    return result


def _node_result(r: Any) -> NodeResult:
    node = r.node
    failures = getattr(r, "failures", None)
    return NodeResult(
        name=str(node.name),
        unique_id=str(node.unique_id),
        resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
        status=str(getattr(r.status, "value", r.status)),
        message=None if r.message is None else str(r.message),
        seconds=float(r.execution_time or 0.0),
        failures=None if failures is None else int(failures),
    )
