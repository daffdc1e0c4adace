"""DuckDB on a nearly full filesystem: a small tmpfs holds the warehouse, a filler file leaves a
little room, and a sync that needs more runs out of space. It must fail with a clear error (one
line, no traceback, saying the disk is full); once space is freed the warehouse must open, hold
nothing twice, answer `ordersync status`, and the next sync must complete to the source's truth."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
from pathlib import Path

from chaoslib import checks, sources, steps
from chaoslib.commands import Cli, clean_error
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, TrialParams, TrialResult, TrialSpec, register
from chaoslib.warehouses import WarehouseHandle

STORE = "shop"
SIZE_MB = 40
DISK_WORDS = ("space", "disk", "full")


def _mount(path: Path) -> str | None:
    path.mkdir(parents=True, exist_ok=True)
    try:  # subprocess.run SIGKILLs it when it runs out of time
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=scaled(60),
        )
    except subprocess.TimeoutExpired:
        return f"mount did not finish within {scaled(60):g} s"
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount exited {done.returncode}")


def _unmount(path: Path) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=scaled(60))


def _fill(disk: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the filesystem."""
    filler = disk / "filler.bin"
    free = shutil.disk_usage(disk).free
    size = max(0, free - leave)
    with filler.open("wb") as f:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            n = min(size, len(chunk))
            f.write(chunk[:n])
            size -= n
    return filler


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    if os.geteuid() != 0:
        result.fail("needs root to mount a tmpfs")
        return result
    disk = p.workdir / "disk"
    problem = _mount(disk)
    if problem is not None:
        result.fail(f"could not mount a tmpfs: {problem}")
        return result
    try:
        # orders of about 10 KB: the smoke's 90 or so are some 900 KB to land, in 128-384 KB left free
        per_day, days = p.pick((450.0, 4.0), (300.0, 4.0), (45.0, 2.0))
        with sources.simulator(p.workdir / "source", [(STORE, per_day)], days=days, seed=rng.randrange(1 << 30)) as sim:
            sources.settle(sim)
            path = disk / "warehouse.duckdb"
            wh = WarehouseHandle(DUCKDB, str(path), path.name, path=path)
            cli = Cli(p.workdir, wh.url, f"{sim.url}/_simulator/clock", {"ORDERSYNC__SYNC__INITIAL_DAYS": "6"})
            if not steps.setup_tenants(cli, {STORE: sim.base_url(STORE)}, result, init=not p.smoke):
                return result
            leave = rng.randrange(128 * 1024, p.pick(1536, 1536, 384) * 1024)
            filler = _fill(disk, leave)
            starved = cli.run(["sync", "--no-build"])
            result.faults += 1
            text = starved.stdout + starved.stderr
            if starved.ok:
                result.fail(f"the sync succeeded with {leave // 1024} KB free: give it more to land")
            else:
                if (bad := clean_error(starved)) is not None:
                    result.fail(f"disk full: {bad}")
                elif not any(w in text.lower() for w in DISK_WORDS):
                    result.fail(f"disk full: the error does not say the disk is full: {starved.brief()}")
                if str(disk) not in text and path.name not in text:
                    result.note("the disk-full error does not name the file or folder")
                result.details.append(("disk full", f"{leave // 1024} KB free", starved.brief()[:200]))
            filler.unlink()
            try:
                with wh.connect() as reader:
                    doubled = checks.doubled_versions(reader)
                    reader.scalar("SELECT count(*) FROM cdp.orders_landing")
            except Exception as exc:
                result.fail(f"after freeing space the warehouse does not open read-only: {type(exc).__name__}: {exc}")
                doubled = 0
            status = cli.run(["status"])
            if not status.ok:
                result.fail(f"`ordersync status` after freeing space: {status.brief()}")
            if p.smoke:  # the next sync lands; its build runs in the harness
                steps.run_to_the_end(cli, ["sync", "--json", "--no-build"], result, wait=2)
                steps.build(cli, result, "the build after the next sync", in_process=True)
            else:
                steps.run_to_the_end(cli, ["sync", "--json"], result, wait=2)
            truth = checks.truth_rows(sources.truth(sim, STORE))
            with wh.connect() as reader:
                state = checks.check_tenant(reader, STORE, truth)
            result.orders_checked += state.checked
            result.versions_lost += state.lost
            result.versions_doubled += state.doubled + doubled
            result.failures += state.problems
    finally:
        _unmount(disk)
    return result


register(
    TrialSpec(
        name="disk-full",
        fn=trial,
        title="DuckDB on a nearly full disk",
        doc=(
            f"The DuckDB warehouse lives on a {SIZE_MB} MB tmpfs. After `init` and `tenants add`, a filler file "
            "leaves 0.125-1.5 MB free and a first sync of about 1,800 orders (4 days) runs out of space. The sync "
            "must fail with one clear line saying the disk is full (no traceback); after the filler is deleted "
            "the file must open, hold no version twice, answer `ordersync status`, and the next `ordersync sync` "
            "must complete with fct_orders equal to the source."
        ),
        warehouses=(DUCKDB,),
        published=3,
        short=1,
        smoke_doc=("About 90 orders over 2 days (some 900 KB of order bodies to land) with 128-384 KB left free."),
    )
)
