"""Revision notices: one per revision of a closed day, written by the build into the outbox and
delivered to real HTTP receivers; retried with back-off, given up visibly, resent with the same id
after a crash between sending and recording; the webhook URL never shown, logged or stored."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ordersync.clock import ManualClock
from ordersync.facade import Ordersync
from ordersync.notify.webhooks import backoff
from ordersync.revisions.notices import NoticeSender
from ordersync.warehouse.locks import LockKey
from ordersync.worker.schedule import ScheduleSettings
from ordersync.worker.worker import Worker
from support.cli import ordersync
from support.notices import (
    TENANT,
    add_notice,
    deliveries,
    env_name,
    land,
    push_tenant,
    receiving,
    settings,
)
from support.processes import wait_for

NOW = datetime(2026, 12, 20, 12, tzinfo=UTC)  # closed with the default 48 h: days up to 12-17
DAY = date(2026, 12, 1)


def _app(url: str, tmp: Path, clock: ManualClock | None = None, **revisions: Any) -> Ordersync:
    return Ordersync(settings(url, tmp, **revisions), clock=clock or ManualClock(NOW))


# -- the build writes the outbox ------------------------------------------------------------------


@pytest.mark.dbt
def test_each_revision_of_a_closed_day_is_one_notice_delivered_once(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = env_name()
    with receiving() as rec, _app(warehouse_url, tmp_path, webhook_url_envs=[var], min_delta_abs=5) as app:
        monkeypatch.setenv(var, rec.url())
        push_tenant(app)
        land(
            app,
            [
                ("A", "2026-12-01T15:00:00Z", "2026-12-01T15:00:00Z", 100),
                ("B", "2026-12-02T15:00:00Z", "2026-12-02T15:00:00Z", 100),
                ("C", "2026-12-19T15:00:00Z", "2026-12-19T15:00:00Z", 100),  # an open day
            ],
        )
        app.build()  # the tenant's first build: nothing is revised
        assert app.list_notices() == []
        land(
            app,
            [
                ("A", "2026-12-01T15:00:00Z", "2026-12-05T10:00:00Z", 130),  # +30: notice
                ("B", "2026-12-02T15:00:00Z", "2026-12-05T10:00:00Z", 101),  # +1, below min_delta_abs
                ("C", "2026-12-19T15:00:00Z", "2026-12-19T18:00:00Z", 500),  # open day: no notice
            ],
        )
        app.build()
        (notice,) = app.list_notices()
        assert (notice["tenant"], notice["order_date"], notice["currency_code"]) == (TENANT, "2026-12-01", "BRL")
        assert (notice["revenue_before"], notice["revenue_after"], notice["delta"]) == ("100.00", "130.00", "30.00")
        assert notice["orders_changed"] == 1
        assert notice["command"].startswith(f"ordersync revenue diff --tenant {TENANT} --as-of ")
        assert " --against " in notice["command"]
        first = app.deliver_notices()
        assert (first.delivered, first.ok) == (1, True)
        assert rec.ids == [notice["notice_id"]]
        (got,) = rec.got
        assert "130.00" in got.body["text"] and "2026-12-01" in got.body["text"] and TENANT in got.body["text"]
        assert notice["command"] in got.body["text"]
        assert app.deliver_notices().delivered == 0  # delivered once: not again

        land(app, [("A", "2026-12-01T15:00:00Z", "2026-12-07T10:00:00Z", 90)])  # revised again: 130 -> 90
        app.build()
        notices = app.list_notices()
        assert len(notices) == 2
        second = notices[0]
        assert second["notice_id"] != notice["notice_id"]
        assert (second["revenue_before"], second["revenue_after"], second["delta"]) == ("130.00", "90.00", "-40.00")
        assert app.deliver_notices().delivered == 1
        assert rec.ids == [notice["notice_id"], second["notice_id"]]
        assert all(d["state"] == "delivered" for n in app.list_notices() for d in n["deliveries"])


# -- delivery ---------------------------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_and_the_same_id(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = env_name()
    clock = ManualClock(NOW)
    with receiving([500, 503]) as rec, _app(warehouse_url, tmp_path, clock, webhook_url_envs=[var]) as app:
        monkeypatch.setenv(var, rec.url())
        nid = add_notice(app, push_tenant(app), DAY)
        summary = app.deliver_notices()
        assert (summary.delivered, summary.webhooks[0].failed, summary.ok) == (0, 1, False)
        rec1 = deliveries(app)[(nid, var)]
        assert rec1["attempts"] == 1 and rec1["next_attempt_at"] == NOW + timedelta(seconds=30)
        assert rec1["last_error"].startswith("HTTP 500")
        assert app.deliver_notices().delivered == 0 and len(rec.got) == 1  # not due yet
        clock.advance(timedelta(seconds=30))
        app.deliver_notices()
        assert deliveries(app)[(nid, var)]["next_attempt_at"] == clock.now() + timedelta(seconds=60)  # doubled
        clock.advance(timedelta(seconds=59))
        assert app.deliver_notices().delivered == 0 and len(rec.got) == 2
        clock.advance(timedelta(seconds=1))
        assert app.deliver_notices().delivered == 1
        assert rec.ids == [nid, nid, nid]
        assert {r.body["blocks"][-1]["elements"][0]["text"] for r in rec.got} == {f"notice {nid}"}
        done = deliveries(app)[(nid, var)]
        assert done["attempts"] == 3 and done["delivered_at"] == clock.now() and done["given_up_at"] is None
        (listed,) = app.list_notices()[0]["deliveries"]
        assert (listed["state"], listed["attempts"]) == ("delivered", 3)
    assert backoff(30, 1) == 30 and backoff(30, 3) == 120 and backoff(30, 40) == 3600  # capped


def test_a_notice_is_given_up_after_max_attempts_and_stays_listed(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = env_name()
    clock = ManualClock(NOW)
    with (
        receiving([500] * 10, answer=b"receiver broken") as rec,
        _app(warehouse_url, tmp_path, clock, webhook_url_envs=[var], max_attempts=2, backoff_seconds=1) as app,
    ):
        monkeypatch.setenv(var, rec.url())
        tid = push_tenant(app)
        nid = add_notice(app, tid, DAY)
        app.deliver_notices()
        clock.advance(timedelta(seconds=1))
        summary = app.deliver_notices()
        assert summary.webhooks[0].given_up == 1
        clock.advance(timedelta(days=1))
        assert app.deliver_notices().delivered == 0
        assert rec.ids == [nid, nid]  # two attempts, then no more
        (listed,) = app.list_notices(undelivered_only=True)
        (d,) = listed["deliveries"]
        assert (d["state"], d["attempts"], d["last_error"]) == ("given up", 2, "HTTP 500: receiver broken")
        assert d["given_up_at"] is not None
        assert app.list_notices(TENANT, undelivered_only=True) == [listed]


class _CrashAfterPost(NoticeSender):
    """Dies between the POST and its record, as a process killed at that moment would."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("crashed before recording")


def test_a_crash_between_sending_and_recording_resends_the_same_id(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = env_name()
    with receiving() as rec, _app(warehouse_url, tmp_path, webhook_url_envs=[var]) as app:
        monkeypatch.setenv(var, rec.url())
        nid = add_notice(app, push_tenant(app), DAY)
        crashing = _CrashAfterPost(lambda: app.wh, app.settings.revisions, app.clock)
        with pytest.raises(RuntimeError, match="crashed before recording"):
            crashing.deliver()
        assert rec.ids == [nid] and deliveries(app) == {}  # sent, not recorded
        assert app.deliver_notices().delivered == 1
        assert rec.ids == [nid, nid]
        assert rec.got[0].body == rec.got[1].body  # the resend is the same notice
        assert deliveries(app)[(nid, var)]["delivered_at"] is not None


def test_slack_and_json_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slack, plain = env_name("SLACK"), env_name("JSON")
    with (
        receiving() as rec,
        _app(
            str(tmp_path / "wh.duckdb"), tmp_path, webhook_url_envs=[slack, plain], webhook_formats={plain: "json"}
        ) as app,
    ):
        monkeypatch.setenv(slack, rec.url("/slack"))
        monkeypatch.setenv(plain, rec.url("/json"))
        # a name from before the naming rule (tenants add refuses it now): still shown inert
        tid = push_tenant(app, "ana-co")
        app.wh.execute("UPDATE cdp.tenants SET tenant_name = ? WHERE tenant_id = ?", ("Ana & <Co>", tid))
        nid = add_notice(app, tid, DAY, "1000.00", "1250.00")
        assert app.deliver_notices().delivered == 2
        by_path = {r.path: r for r in rec.got}
        assert {r.notice_id for r in rec.got} == {nid}
        s = by_path["/slack"].body
        assert set(s) == {"text", "blocks"}
        assert "Ana &amp; &lt;Co&gt;" in s["text"] and "1,000.00 → 1,250.00 (+250.00, +25.0%)" in s["text"]
        assert [b["type"] for b in s["blocks"]] == ["header", "section", "section", "context"]
        fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in s["blocks"][1]["fields"]}
        assert fields["*Delta*"] == "+250.00 BRL" and fields["*Orders changed*"] == "2"
        assert "ordersync revenue diff --tenant 'Ana &amp; &lt;Co&gt;' --as-of" in s["blocks"][2]["text"]["text"]
        j = by_path["/json"].body
        assert j["type"] == "revenue_revision" and j["notice_id"] == nid
        assert (j["tenant"], j["order_date"], j["currency_code"]) == ("Ana & <Co>", "2026-12-01", "BRL")
        assert (j["revenue_before"], j["revenue_after"], j["delta"], j["orders_changed"]) == (
            "1000.00",
            "1250.00",
            "250.00",
            2,
        )
        assert j["command"] == (
            "ordersync revenue diff --tenant 'Ana & <Co>' --as-of 2026-12-03T12:00:00+00:00 "
            "--against 2026-12-03T13:00:00+00:00"
        )


def test_a_webhook_whose_variable_is_not_set_is_a_reported_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unset, ok = env_name("UNSET"), env_name()
    with receiving() as rec, _app(str(tmp_path / "wh.duckdb"), tmp_path, webhook_url_envs=[unset, ok]) as app:
        monkeypatch.setenv(ok, rec.url())
        monkeypatch.setenv(unset, "")
        nid = add_notice(app, push_tenant(app), DAY)
        summary = app.deliver_notices()
        assert summary.delivered == 1 and not summary.ok
        skipped = next(w for w in summary.webhooks if w.webhook == unset)
        assert skipped.skipped == f"environment variable {unset} is not set; set it to the webhook's URL"
        assert skipped.waiting == 1
        states = {d["webhook"]: d["state"] for d in app.list_notices()[0]["deliveries"]}
        assert states == {unset: "waiting", ok: "delivered"}  # waiting, never given up
        assert app.list_notices(undelivered_only=True)[0]["notice_id"] == nid
        monkeypatch.setenv(unset, rec.url("/late"))
        assert app.deliver_notices().delivered == 1  # once set, it gets what waited
        assert app.list_notices(undelivered_only=True) == []


@pytest.mark.postgres
def test_delivery_rounds_take_turns_across_processes(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = env_name()
    with receiving() as rec, _app(pg_url, tmp_path, webhook_url_envs=[var]) as app, _app(pg_url, tmp_path) as other:
        monkeypatch.setenv(var, rec.url())
        add_notice(app, push_tenant(app), DAY)
        other.wh.execute("SELECT pg_advisory_lock(?)", (int(LockKey.DELIVERY),))  # another process delivering
        busy = app.deliver_notices()
        assert busy.busy and rec.got == []
        other.wh.execute("SELECT pg_advisory_unlock(?)", (int(LockKey.DELIVERY),))
        assert app.deliver_notices().delivered == 1


# -- where deliveries happen by themselves -----------------------------------------------------------


def test_the_worker_tick_delivers_and_a_delivery_failure_never_fails_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    var = env_name()
    url = str(tmp_path / "wh.duckdb")
    with receiving() as rec, _app(url, tmp_path, webhook_url_envs=[var]) as app:
        monkeypatch.setenv(var, rec.url())
        nid = add_notice(app, push_tenant(app), DAY)
        assert Worker(app, ScheduleSettings()).tick().notices_delivered == 1
        assert rec.ids == [nid]
    broken = _app(url, tmp_path, webhook_url_envs=[var], webhook_formats={"NOT_LISTED": "json"})
    with broken, caplog.at_level(logging.ERROR, logger="ordersync.worker"):
        report = Worker(broken, ScheduleSettings()).tick()  # delivery raises: the tick does not
        assert report.notices_delivered == 0
    assert "delivering revision notices failed" in caplog.text and "NOT_LISTED" in caplog.text


def test_serve_delivers_what_waits_in_the_outbox(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ordersync.config import ServeSettings
    from ordersync.serve.process import ServeOptions, serving_in_thread

    var = env_name()
    with receiving() as rec:
        monkeypatch.setenv(var, rec.url())
        with _app(warehouse_url, tmp_path) as setup:
            nid = add_notice(setup, push_tenant(setup), DAY)
        app = Ordersync(settings(warehouse_url, tmp_path, webhook_url_envs=[var]))
        options = ServeOptions(ServeSettings(port=0, build_every_seconds=3600), worker=False)
        with serving_in_thread(app, options):
            wait_for(lambda: rec.got, "serve to deliver the notice")
        assert rec.ids == [nid]


# -- the URL is a secret -----------------------------------------------------------------------------

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb-notice-secret-7Hq"


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return ordersync(args, cwd, env=env, columns=400, clean_env=True)


def test_the_webhook_url_never_appears_in_output_logs_or_the_warehouse(tmp_path: Path) -> None:
    wh = str(tmp_path / "wh.duckdb")
    # a receiver that echoes the URL it was called at in its error, and a closed port
    with receiving([500] * 10) as rec:
        rec.answer = f"no such hook {rec.url(SECRET_PATH)}".encode()
        dead = "http://127.0.0.1:9" + SECRET_PATH
        env = {
            "ORDERSYNC__REVISIONS__WEBHOOK_URL_ENVS": '["LEAKY_HOOK", "DEAD_HOOK"]',
            "ORDERSYNC__REVISIONS__WEBHOOK_FORMATS": '{"DEAD_HOOK": "json"}',
            "LEAKY_HOOK": rec.url(SECRET_PATH),
            "DEAD_HOOK": dead,
        }
        with _app(wh, tmp_path) as app:
            add_notice(app, push_tenant(app), DAY)
        outputs = [
            _cli(["--warehouse", wh, "--debug", "notices", "send"], tmp_path, env),
            _cli(["--warehouse", wh, "--debug", "notices", "send", "--json"], tmp_path, env),
            _cli(["--warehouse", wh, "--debug", "notices", "list"], tmp_path, env),
            _cli(["--warehouse", wh, "notices", "list", "--json"], tmp_path, env),
        ]
        assert len(rec.got) == 1  # the second send waited for the back-off
    send, _, listed, as_json = outputs
    assert send.returncode == 1 and "LEAKY_HOOK" in send.stdout and "HTTP 500" in send.stdout
    assert "DEAD_HOOK" in send.stdout and "failed" in send.stderr  # the warning log line, scrubbed
    assert listed.returncode == 0 and "retrying" in listed.stdout and "last error" in listed.stdout
    assert '"webhook": "DEAD_HOOK"' in as_json.stdout
    with _app(wh, tmp_path) as app:
        stored = " ".join(str(v) for row in app.wh.query("SELECT * FROM cdp.notice_deliveries") for v in row)
    assert "HTTP 500" in stored
    for text in [stored, *(o.stdout + o.stderr for o in outputs)]:
        for leak in ("T0SECRET", "xoxb-notice-secret", f"127.0.0.1:{rec.port}", "127.0.0.1:9/"):
            assert leak not in text, (leak, text)
