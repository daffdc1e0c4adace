"""`quarantine list` and `quarantine retry` on both warehouses: a record quarantined for a reason that
no longer holds lands and is marked resolved, one still bad keeps its row with the attempt counted
and the error, store records are fetched again from the store, and a second retry lands nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from factories import vtex_order_json
from ordersync.clock import ManualClock
from ordersync.errors import ConfigError, NotFoundError
from ordersync.facade import Ordersync
from ordersync.land import Lander
from ordersync.land.quarantine import quarantined_raw
from ordersync.simulator import AccountSpec, SimulatorConfig
from ordersync.simulator.server import start_in_thread
from support.sim import KEY_ENV, TOKEN_ENV, register, settings_for

NOW = datetime(2025, 3, 10, 15, tzinfo=UTC)


@pytest.fixture
def app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    with Ordersync(settings_for(warehouse_url, tmp_path), clock=ManualClock(NOW)) as a:
        a.init()
        yield a


def _tenant(app: Ordersync, name: str) -> int:
    tenant = app.add_tenant(name, account=name, base_url="http://127.0.0.1:9", app_key_env=None, app_token_env=None)
    return tenant.tenant_id


def _row(app: Ordersync, quarantine_id: int) -> dict[str, Any]:
    [row] = app.wh.query_dicts("SELECT * FROM cdp.quarantine WHERE quarantine_id = ?", (quarantine_id,))
    return row


def test_retry_lands_what_parses_now_and_keeps_every_row(app: Ordersync) -> None:
    tid = _tenant(app, "shop")
    lander = Lander(app.wh, app.clock)
    # quarantined under an older, stricter rule: the record itself is fine
    lander.quarantine(tid, vtex_order_json("fixed-1"), "value 15990 looked wrong", "file", None, "fixed-1")
    # fine too, and its version has landed since: resolved without a second copy
    app.land_records("shop", [vtex_order_json("landed-since")])
    lander.quarantine(tid, vtex_order_json("landed-since"), "an old reason", "file", None, "landed-since")
    # still bad: through the normal path, and raw bytes that are not text at all
    app.land_records("shop", [vtex_order_json("neg", value=-5), vtex_order_json("ok-1")])
    lander.quarantine(tid, b"\xff\x00\xfe{", "not valid UTF-8", "file", None)
    landing_before = app.wh.scalar("SELECT count(*) FROM cdp.orders_landing")
    ids = [int(r["quarantine_id"]) for r in app.quarantine_list("shop")]
    assert len(ids) == 4

    result = app.quarantine_retry("shop")
    assert (result.retried, result.resolved, result.still_bad, result.landed) == (4, 2, 2, 1)
    by_id = {o.quarantine_id: o for o in result.outcomes}
    fixed, since, neg, binary = (_row(app, i) for i in ids)
    for row in (fixed, since):
        assert row["resolved_at"] is not None and row["resolved_run_id"] == result.run_id
        assert row["retries"] == 1 and by_id[int(row["quarantine_id"])].status == "resolved"
    for row, error in ((neg, "value -5 is negative"), (binary, "not valid UTF-8")):
        assert row["resolved_at"] is None and row["retries"] == 1
        assert error in str(row["last_error"])
        assert error in str(by_id[int(row["quarantine_id"])].error)
    assert quarantined_raw(app.wh, ids[3]) == b"\xff\x00\xfe{"  # still byte for byte
    landed = app.wh.query(
        "SELECT order_id, source, run_id FROM cdp.orders_landing WHERE order_id = 'fixed-1'",
    )
    assert landed == [("fixed-1", "file", result.run_id)]
    assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing") == landing_before + 1
    assert app.wh.scalar("SELECT count(*) FROM cdp.quarantine") == 4  # the audit trail stays

    assert [r["quarantine_id"] for r in app.quarantine_list("shop")] == [ids[2], ids[3]]
    every = app.quarantine_list("shop", include_resolved=True)
    assert [r["resolved"] for r in every] == [True, True, False, False]
    assert every[0]["resolved_run_id"] == result.run_id and every[2]["retries"] == 1

    again = app.quarantine_retry("shop")
    assert (again.retried, again.resolved, again.still_bad, again.landed) == (2, 0, 2, 0)
    assert app.wh.scalar("SELECT count(*) FROM cdp.orders_landing") == landing_before + 1
    assert _row(app, ids[2])["retries"] == 2 and _row(app, ids[0])["retries"] == 1


def test_retry_by_id_and_tenant_touches_nothing_else(app: Ordersync) -> None:
    a, b = _tenant(app, "alpha"), _tenant(app, "beta")
    lander = Lander(app.wh, app.clock)
    lander.quarantine(a, vtex_order_json("a-1"), "old", "file", None)
    lander.quarantine(a, vtex_order_json("a-2"), "old", "file", None)
    lander.quarantine(b, vtex_order_json("b-1"), "old", "file", None)
    a1, a2, b1 = (int(r["quarantine_id"]) for r in app.quarantine_list())
    assert {r["tenant"] for r in app.quarantine_list()} == {"alpha", "beta"}
    assert [r["quarantine_id"] for r in app.quarantine_list("beta")] == [b1]

    with pytest.raises(NotFoundError, match=f"of this tenant with id {b1}"):
        app.quarantine_retry("alpha", [b1])
    with pytest.raises(NotFoundError, match="with id 999999"):
        app.quarantine_retry(None, [a1, 999999])
    assert app.wh.scalar("SELECT count(*) FROM cdp.quarantine WHERE retries > 0") == 0  # refused before writing

    only = app.quarantine_retry(None, [a2])
    assert [o.quarantine_id for o in only.outcomes] == [a2] and only.landed == 1
    beta = app.quarantine_retry("beta")
    assert [o.quarantine_id for o in beta.outcomes] == [b1]
    assert [r["quarantine_id"] for r in app.quarantine_list()] == [a1]
    # an id already resolved is not retried again
    assert app.quarantine_retry(None, [a2]).retried == 0


@pytest.mark.integration
def test_store_records_are_fetched_again_from_the_store(warehouse_url: str, tmp_path: Path) -> None:
    config = SimulatorConfig(
        port=0,
        seed=11,
        days=2,
        speed=0.0,
        start=NOW,
        rate_limit_per_minute=0,
        accounts=[AccountSpec(name="shop", orders_per_day=30)],
    )
    settings = settings_for(warehouse_url, tmp_path)
    with start_in_thread(config) as sim, Ordersync(settings, clock=ManualClock(NOW)) as app:
        app.init()
        register(app, sim, ["shop"], config.app_key, config.app_token)
        tid = app.tenants.get("shop").tenant_id
        truth = {o["orderId"]: o for o in sim.truth("shop")}
        first, second = sorted(truth)[:2]
        lander = Lander(app.wh, app.clock)
        # what a sync quarantines when get-order kept answering a cut-off body
        cut = b'{"orderId": "' + first.encode() + b'", "val'
        lander.quarantine(tid, cut, "body malformed", "vtex-oms", "r1", first)
        lander.quarantine(tid, second.encode(), "get-order answered 404", "vtex-oms", "r1", second)
        lander.quarantine(tid, b"{}", "get-order answered 404", "vtex-oms", "r1", "no-such-order")
        rows = app.quarantine_list("shop")

        # credentials are read before anything is written
        key = os.environ.pop(KEY_ENV)
        with pytest.raises(ConfigError):
            app.quarantine_retry("shop")
        os.environ[KEY_ENV] = key
        assert app.wh.scalar("SELECT count(*) FROM cdp.quarantine WHERE retries > 0") == 0

        result = app.quarantine_retry("shop")
        assert (result.resolved, result.still_bad, result.landed) == (2, 1, 2)
        got = {
            r[0]: (r[1], int(r[2] * 100), r[3])
            for r in app.wh.query("SELECT order_id, status, total_value, source FROM cdp.orders_landing")
        }
        assert got == {oid: (truth[oid]["status"], int(truth[oid]["value"]), "vtex-oms") for oid in (first, second)}
        missing = _row(app, int(rows[2]["quarantine_id"]))
        assert missing["resolved_at"] is None and missing["retries"] == 1
        assert "get-order failed again" in str(missing["last_error"]) and "404" in str(missing["last_error"])
        assert os.environ[TOKEN_ENV] not in str(missing["last_error"])

        again = app.quarantine_retry("shop")
        assert (again.retried, again.landed) == (1, 0)
