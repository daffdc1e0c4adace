"""What serve does in the background so requests need not: DuckDB checkpoints (never inside a
request's commit), and the per-token budget's arithmetic."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from factories import push_event
from ordersync.config import ServeSettings
from ordersync.facade import Ordersync
from ordersync.land import ledger
from ordersync.observe import summaries
from ordersync.serve import process
from ordersync.serve.process import Serve, ServeOptions, serving_in_thread
from ordersync.web.budget import Budget, retry_after
from support.processes import wait_for
from support.sim import settings_for

BATCHES = 40  # at most: pushed until the WAL passes 16 MB


@pytest.fixture
def duck(tmp_path: Path, duckdb_template: Path) -> Iterator[tuple[str, Serve, str, Path]]:
    wh = tmp_path / "wh.duckdb"
    shutil.copyfile(duckdb_template, wh)
    setup = Ordersync(settings_for(str(wh), tmp_path))
    setup.add_tenant("app", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    _, token = setup.create_token("app")
    setup.close()
    options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
    with serving_in_thread(Ordersync(settings_for(str(wh), tmp_path)), options) as (url, s):
        yield url, s, token, wh


@pytest.mark.integration
def test_duckdb_commits_leave_the_wal_to_serves_own_checkpoints(
    duck: tuple[str, Serve, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits checkpoint only past CHECKPOINT_WAL_MB (not DuckDB's 16 MB); serve's pulse does it
    every 30 s, or sooner once the WAL passes PULSE_WAL_MB; the pool is serve's own size."""
    url, s, token, wh = duck
    monkeypatch.setattr(process, "PULSE_WAL_MB", 1e9)  # held off while the WAL grows
    monkeypatch.setattr(process, "CHECKPOINT_EVERY_SECONDS", 1e9)
    threshold = s.gate.locked(lambda app: app.wh.scalar("SELECT current_setting('checkpoint_threshold')"))
    assert str(threshold).startswith("976.5 MiB")  # CHECKPOINT_WAL_MB, not DuckDB's 16 MB
    pool = s.gate.locked(lambda app: app.wh.scalar("SELECT current_setting('memory_limit')"))
    assert str(pool).startswith("244.1 MiB")  # [serve] duckdb_memory_limit, not a command's 48 MB
    wal = wh.with_name(wh.name + ".wal")
    sizes = []
    for batch in range(BATCHES):
        events = [push_event(f"W-{batch}-{i}", customer={"name": f"{i}" + "x" * 990}) for i in range(500)]
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{url}/v1/tenants/app/orders", json=events, headers=auth, timeout=60)
        assert r.status_code == 200 and r.json()["landed"] == 500, r.text[:500]
        sizes.append(wal.stat().st_size if wal.exists() else 0)
        if sizes[-1] > 16 * 1024 * 1024:
            break
    # past DuckDB's own 16 MB threshold, and no commit checkpointed (the WAL only grew)
    assert sizes[-1] > 16 * 1024 * 1024, sizes
    assert sizes == sorted(sizes), sizes
    monkeypatch.setattr(process, "PULSE_WAL_MB", 8)
    # emptied by the checkpoint; the counting loop's next turn may write a little to it again
    wait_for(lambda: not wal.exists() or wal.stat().st_size < 1024 * 1024, "serve's pulse to checkpoint the file")
    # and the setting survives the connection being closed and opened again
    s.gate.locked(lambda app: app.reconnect())
    again = s.gate.locked(lambda app: app.wh.scalar("SELECT current_setting('checkpoint_threshold')"))
    assert again == threshold


@pytest.mark.integration
def test_serve_counts_what_landed_and_its_reads_only_read_the_counts(duck: tuple[str, Serve, str, Path]) -> None:
    """The counting loop brings the tenant summaries up to the ledger with no read asking; a read
    then says which count it shows."""
    url, s, token, _ = duck
    events = [push_event(f"C-{i}") for i in range(30)]
    r = httpx.post(f"{url}/v1/tenants/app/orders", json=events, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["landed"] == 30, r.text[:500]

    def counted() -> bool:
        def look(app: Ordersync) -> bool:
            top = ledger.sealed_max(app.wh)
            return top > 0 and ledger.cursor(app.wh, summaries.CONSUMER) >= top

        return s.gate.locked(look)

    # the loop notes its count's moment once its refresh has returned, after the cursor committed
    wait_for(lambda: counted() and s.keeper.at is not None, "serve's loop to count the push")
    (status,) = s.gate.reading(lambda app: app.status())
    assert status["orders_landed"] == 30
    assert datetime.fromisoformat(status["counted_at"]) <= s.app.clock.now()


def test_the_budget_refills_over_the_minute_and_refuses_whole_batches() -> None:
    now = [0.0]
    budget = Budget(60, now=lambda: now[0])  # one item a second
    assert budget.take("t", 50) is None
    assert budget.take("t", 20) == pytest.approx(10.0)  # 10 left, 10 more in 10 s
    assert budget.take("u", 60) is None  # another token's bucket is its own
    now[0] = 10.0
    assert budget.take("t", 20) is None
    assert budget.take("t", 61) == 60.0  # never fits a minute's allowance
    now[0] = 1000.0
    assert budget.take("t", 60) is None  # full again, never more than a minute's worth
    assert budget.take("t", 1) == pytest.approx(1.0)
    assert [retry_after(x) for x in (0.0, 0.2, 1.0, 9.01)] == ["1", "1", "1", "10"]
