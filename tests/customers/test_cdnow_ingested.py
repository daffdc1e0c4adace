"""CDNOW through the product, on DuckDB and PostgreSQL: its calibration rows pushed as order events of
one UTC push tenant, built with dbt, the customers kept after the build at the clock's date
(1997-09-30) with weeks as the model's unit. The CLV model the step fits from fct_orders reproduces
the published BG/NBD and Gamma-Gamma estimates within 1%, unpenalised; the same figures
tests/customers/test_cdnow.py reaches fitting the file in process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from customers.test_cdnow import CAL_END, _cdnow_path
from factories import push_event
from ordersync.clock import ManualClock
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.sources.push.bodies import json_items

pytestmark = [pytest.mark.dbt]

#: the published estimates (Fader, Hardie and Lee 2005; lifetimes' documentation)
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}


def _calibration_events() -> list[bytes]:
    """One order event a row of the file up to the calibration's end (rows after it are the holdout)."""
    events = []
    for n, line in enumerate(_cdnow_path().read_text().splitlines()):
        _, customer, day, _cds, dollars = line.split()
        if day > CAL_END.strftime("%Y%m%d"):
            continue
        at = f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00Z"
        events.append(
            orjson.dumps(
                push_event(
                    f"cd-{n}",
                    creation_date=at,
                    event_time=at,
                    status="invoiced",
                    total_value=f"{float(dollars):.2f}",
                    currency_code="USD",
                    customer={"id": f"cdnow-{customer}"},
                )
            )
        )
    return events


@pytest.fixture
def app(warehouse_url: str, tmp_path: Path) -> Iterator[Ordersync]:
    overrides = {
        "warehouse": {"url": warehouse_url},
        "dbt": {"state_dir": str(tmp_path / "dbt")},
        "customers": {"enabled": True, "time_unit": "week"},
    }
    clock = ManualClock(datetime(CAL_END.year, CAL_END.month, CAL_END.day, 23, tzinfo=UTC))
    with Ordersync(load_settings(overrides=overrides), clock=clock) as app:
        app.add_tenant(
            "cdnow", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None, timezone="UTC"
        )
        yield app


def test_the_step_fits_cdnow_to_the_published_estimates(app: Ordersync) -> None:
    events = _calibration_events()
    body = b"[" + b",".join(events) + b"]"
    answer = app.push_receiver().receive(app.tenants.get("cdnow"), json_items(body), idempotency_key=None, request=body)
    assert answer.body["landed"] == len(events) > 4000, answer.body
    app.build()

    (found,) = app.customer_models("cdnow")
    assert found["ready"] is True and found["fit_date"] == CAL_END.isoformat(), found
    params = {**found["model"]["bgnbd"], **found["model"]["gamma_gamma"]}
    for name, value in PUBLISHED.items():
        assert params[name] == pytest.approx(value, rel=0.01), name
    report = found["report"]
    assert (report["customers"], report["repeat_buyers"], report["penalizer"]) == (2349, 946, 0.0)
    # every purchasing customer has a profile and a CLV (the 8 whose one row is worth 0 bought nothing)
    rows = app.list_customers("cdnow")
    assert len(rows) == 2357 and sum(1 for r in rows if r["clv_12m"] is not None) == 2349
