"""Steps most trials share: register tenants as a user does, run a command to the end the way an
operator would (again while another process still holds the tenant), read sync summaries."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

from chaoslib.commands import Cli, Done, clean_error
from chaoslib.model import TrialResult
from chaoslib.secrets import KEY_ENV, TOKEN_ENV, mask

BUSY_EXIT = 10  # TenantBusyError


def setup_tenants(
    cli: Cli,
    tenants: dict[str, str],
    result: TrialResult,
    *,
    go_live: date | None = None,
    frequency_hours: int = 6,
    timezone: str = "UTC",
    init: bool = True,
) -> bool:
    """`ordersync init` then `ordersync tenants add` for each name -> base URL. False on failure.
    Without `init` (the smoke trials: a command less), the first `tenants add` creates the schema, as
    every command that writes does."""
    done = cli.run(["init"]) if init else None
    if done is not None and not done.ok:
        result.fail(f"setup: {done.brief()}")
        return False
    for name, base_url in tenants.items():
        args = [
            "tenants", "add", name,
            "--account", base_url.rstrip("/").rsplit("/", 1)[-1],
            "--base-url", base_url,
            "--app-key-env", KEY_ENV,
            "--app-token-env", TOKEN_ENV,
            "--timezone", timezone,
            "--frequency-hours", str(frequency_hours),
        ]  # fmt: skip
        if go_live is not None:
            args += ["--go-live-date", go_live.isoformat()]
        done = cli.run(args)
        if not done.ok:
            result.fail(f"setup: {done.brief()}")
            return False
    return True


def build(cli: Cli, result: TrialResult, what: str, *, in_process: bool = False) -> bool:
    """`ordersync build` once the trial's faults are over, as an operator runs it; False (and a
    failure saying `what` was built) when it fails. In process (the smoke trials) it is the same
    `Ordersync.build` the command calls, with the command's warehouse, dbt folder and clock, run in
    the harness: no process to start, dbt imported once (some 4 s less a build). Its outcome goes
    to the trial's logs like a command's output, where the secret scan reads it."""
    if not in_process:
        done = cli.run(["build"])
        if not done.ok:
            result.fail(f"{what}: {done.brief()}")
        return done.ok
    from ordersync.config import load_settings
    from ordersync.facade import Ordersync

    overrides: dict[str, Any] = {
        "warehouse": {"url": cli.warehouse_url},
        "dbt": {"state_dir": cli.env["ORDERSYNC__DBT__STATE_DIR"]},
        "customers": {"identity_key_file": cli.env["ORDERSYNC__CUSTOMERS__IDENTITY_KEY_FILE"]},
    }
    if "ORDERSYNC__CLOCK" in cli.env:
        overrides["clock"] = cli.env["ORDERSYNC__CLOCK"]
    try:
        with Ordersync(load_settings(overrides=overrides)) as app:
            seconds = app.build().seconds
    except Exception as exc:  # ordersync's error, or a bug of its: the trial's failure either way
        message = f"{type(exc).__name__}: {exc}"
        cli.log("build-in-process", stderr=f"error: {message}\n")
        result.fail(f"{what}: {mask(message)}")
        return False
    cli.log("build-in-process", stdout=f"dbt build passed in {seconds:.1f} s\n")
    return True


def sync_summary(done: Done) -> dict[str, Any] | None:
    """The `sync --json` document, or None when the command printed none."""
    text = done.stdout.strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        value: dict[str, Any] = json.loads(text[start:])
    except ValueError:
        return None
    return value


def is_busy(done: Done) -> bool:
    if done.code == BUSY_EXIT:
        return True
    summary = sync_summary(done)
    runs = summary.get("runs", []) if summary else []
    return any(r.get("status") == "busy" for r in runs)


def run_to_the_end(cli: Cli, args: list[str], result: TrialResult, *, wait: float, tries: int = 4) -> Done:
    """Run a command as an operator would after a crash: again while the tenant is still leased by a
    process that is gone (its lease runs out after `wait` seconds). Failures go to `result`."""
    done = cli.run(args)
    for _ in range(tries - 1):
        if not is_busy(done):
            break
        result.note(f"`{args[0]}` found the tenant still leased by the killed process; ran again after {wait:g} s")
        time.sleep(wait)
        done = cli.run(args)
    if not done.ok:
        result.fail(f"final run: {done.brief()}")
    elif (problem := clean_error(done)) is not None:
        result.fail(problem)
    summary = sync_summary(done) if args[0] == "sync" else None
    if summary is not None:
        bad = [r for r in summary.get("runs", []) if r.get("status") not in ("succeeded", "skipped")]
        if bad:
            result.fail(f"final run: {[(r.get('tenant'), r.get('status'), r.get('error')) for r in bad]}")
        if summary.get("build_error"):
            result.fail(f"final run's dbt build failed: {summary['build_error']}")
    return done
