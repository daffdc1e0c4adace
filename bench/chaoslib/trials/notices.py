"""`kill -9` of `ordersync notices send` while two webhooks (Slack and JSON) receive revision notices.

Closed days of a push tenant are revised (landed, built, landed again, built: one notice per day in
the outbox), then `ordersync notices send` is SIGKILLed over and over: at random moments, and, every
other kill, right after a receiver got a notice and before its answer went back (the notice was
sent, its delivery not recorded). The receivers answer 500 now and then (retried: the back-off is
set to zero so the next run retries). At the end: every notice reached both receivers with a 2xx at
least once, every notice a receiver got is one of the outbox (none invented, the header and the
body agree), every notice held at a kill was sent again with the same id, the warehouse records
every delivery and gives none up, and the webhook URLs appear in no output, log or record.

The smoke trial (the test suite's) revises two days and kills `notices send` once, right after a
receiver got a notice and before its answer went back.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from chaoslib.commands import Cli
from chaoslib.model import DUCKDB, POSTGRES, TrialParams, TrialResult, TrialSpec, register
from chaoslib.receivers import Got, Receivers, kill_sends, send_until_delivered, serving, url_leaks
from chaoslib.warehouses import PgServer, Reader, dropping, fresh
from ordersync.config import load_settings
from ordersync.facade import Ordersync
from ordersync.revisions.notice_bodies import NOTICE_ID_HEADER

TENANT = "revised"
#: In the webhook URLs' path: found anywhere in the trial's files or records, the URL leaked.
URL_SECRET = "T0CHAOS-hook-S3cr3t-q8Zr"
HOOKS = {"CHAOS_SLACK_HOOK": "slack", "CHAOS_JSON_HOOK": "json"}


@dataclass(frozen=True)
class _Notice:
    hook: str
    notice_id: str | None  # the header's
    body_id: str | None
    status: int


def _notice_ids(got: Got) -> tuple[str | None, str | None]:
    """(the notice id in the request's header, the one its body names)."""
    try:
        body = json.loads(got.body)
        body_id = body.get("notice_id") or _slack_id(body)
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        body_id = None
    return got.headers.get(NOTICE_ID_HEADER.lower()), body_id


def _slack_id(body: dict[str, Any]) -> str | None:
    text = body["blocks"][-1]["elements"][0]["text"]
    return text.removeprefix("notice ") if isinstance(text, str) else None


def _events(days: list[date], totals: list[int], step: int) -> bytes:
    lines = [
        json.dumps(
            {
                "order_id": f"R-{d.isoformat()}",
                "event_time": f"{d.isoformat()}T{10 + step:02d}:00:00Z",
                "status": "invoiced",
                "total_value": total,
                "currency_code": "BRL",
                "creation_date": f"{d.isoformat()}T15:00:00Z",
            }
        )
        for d, total in zip(days, totals, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def _outbox(p: TrialParams, url: str, rng: random.Random, count: int) -> str | None:
    """Revise `count` closed days (two builds): one notice each. The problem, if any."""
    settings = load_settings(overrides={"warehouse": {"url": url}, "dbt": {"state_dir": str(p.workdir / "dbt")}})
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=5 + i) for i in range(count)]
    with Ordersync(settings) as app:
        app.add_tenant(TENANT, platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
        for step in (0, 1):
            path = p.workdir / f"orders-{step}.ndjson"
            path.write_bytes(_events(days, [rng.randrange(10, 500) * (step + 1) + step for _ in days], step))
            (res,) = app.ingest_files(TENANT, [path])
            if res.landed != count:
                return f"ingest {step} landed {res.landed} of {count}"
            app.build()
        made = len(app.list_notices())
    return None if made == count else f"the builds wrote {made} notices for {count} revised days"


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    count = p.pick(25, 8, 2)
    kills = int(p.option("kills"))
    server = PgServer() if p.warehouse != DUCKDB else None
    with dropping(fresh(p.warehouse, p.workdir, "notices", server)) as wh:
        problem = _outbox(p, wh.url, rng, count)
        if problem is not None:
            result.fail(f"setup: {problem}")
            return result
        rec = Receivers(URL_SECRET, fail_rate=0.15, rng=random.Random(rng.random()))
        with serving(rec):
            env = {
                "ORDERSYNC__REVISIONS__WEBHOOK_URL_ENVS": json.dumps(list(HOOKS)),
                "ORDERSYNC__REVISIONS__WEBHOOK_FORMATS": json.dumps({k: v for k, v in HOOKS.items() if v == "json"}),
                "ORDERSYNC__REVISIONS__BACKOFF_SECONDS": "0",
                **{name: rec.url(name) for name in HOOKS},
            }
            cli = Cli(p.workdir, wh.url, None, env)
            kill_sends(cli, rec, rng, kills, result, first=1 if p.smoke else None)
            send_until_delivered(cli, result, lambda summary: all(w["waiting"] == 0 for w in summary["webhooks"]))
        with wh.connect() as reader:
            _check(result, reader, rec, p.workdir)
    return result


def _check(result: TrialResult, reader: Reader, rec: Receivers, workdir: Path) -> None:
    outbox = {r[0] for r in reader.query("SELECT notice_id FROM cdp.revision_notices")}
    records = reader.query(
        "SELECT notice_id, webhook, delivered_at, given_up_at, last_error FROM cdp.notice_deliveries"
    )
    requests, held_requests = rec.requests()
    got = [_Notice(g.hook, *_notice_ids(g), g.status) for g in requests]
    held = [(g.hook, nid) for g in held_requests if (nid := _notice_ids(g)[0]) is not None]
    result.orders_checked += len(outbox) * len(HOOKS)
    counts = Counter((g.hook, g.notice_id) for g in got)
    for hook in HOOKS:
        answered = {g.notice_id for g in got if g.hook == hook and 200 <= g.status < 300}
        lost = outbox - answered
        result.versions_lost += len(lost)
        if lost:
            result.fail(f"{len(lost)} of {len(outbox)} notices never reached {hook} with a 2xx answer")
    invented = [g for g in got if g.notice_id not in outbox]
    result.versions_doubled += len(invented)
    if invented:
        result.fail(f"{len(invented)} requests carried a notice id the outbox does not hold")
    disagree = [g for g in got if g.body_id != g.notice_id]
    if disagree:
        result.fail(f"{len(disagree)} requests whose body names another notice than the header")
    for hook, nid in held:
        if counts[(hook, nid)] < 2:
            result.fail(f"notice {nid} was sent to {hook} when its sender was killed, and never sent again")
    delivered = {(r[0], r[1]) for r in records if r[2] is not None}
    missing = {(n, h) for n in outbox for h in HOOKS} - delivered
    if missing:
        result.fail(f"{len(missing)} deliveries not recorded as delivered, e.g. {sorted(missing)[:2]}")
    if any(r[3] is not None for r in records):
        result.fail("a notice was given up (max_attempts is 20; no receiver failed that often)")
    result.failures += url_leaks(URL_SECRET, workdir, {"cdp.notice_deliveries": records})
    resent = sum(n - 1 for n in counts.values() if n > 1)
    result.note(f"{len(outbox)} notices, {len(got)} requests, {resent} resends, {len(held)} held at a kill")


register(
    TrialSpec(
        name="notices-kill-9",
        fn=trial,
        title="kill -9 of ordersync notices send",
        doc=(
            "A push tenant's closed days are revised (two builds: one notice per day in the outbox; 8 days "
            "in the short run, 25 in the published one), then `ordersync notices send` (a child process) "
            "delivers them to two local webhooks, one Slack and one JSON, that answer 500 to 15% of "
            "requests. It is SIGKILLed at random moments and, every other kill, right after a receiver got a "
            "notice and before the answer went back (sent, not recorded); then run until a round delivers "
            "everything. Checked: every notice reached both webhooks with a 2xx at least once; every "
            "request carried a notice id of the outbox, the same in header and body; every notice held at a "
            "kill was sent again with its id; cdp.notice_deliveries records every delivery and gives none up; "
            "the webhook URLs appear in no output, log or record."
        ),
        published=10,
        short=1,
        smoke_on=(POSTGRES,),  # the suite's smoke: one warehouse (the published runs: both)
        smoke_doc=(
            "Two revised days (four deliveries). One kill, right after a receiver got a notice and before its "
            "answer went back; then `notices send` until a round delivers everything."
        ),
        options={"kills": 6, "kills_short": 4, "kills_smoke": 1},
    )
)
