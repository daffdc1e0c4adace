"""`kill -9` of `ordersync serve` while the mobile SDK pushes its seeded stream through it.

The SDK (ordersync.simulator.sdk) pushes late, duplicated, shuffled order events in batches, each
with its Idempotency-Key, retrying 5xx and broken connections with that key. A relay in front of
serve stands for the load balancer: it answers 502 while serve is down. Serve is SIGKILLed at random
moments and, every other kill, right after it answered a push 200 (its answer is lost: the SDK sends
the batch again and must get the first answer back). Serve restarts on the same port each time. At
the end every distinct event of the stream is in cdp.orders_landing exactly once, the answers add up
to the stream, and after a build fct_orders equals the SDK's truth.

The smoke trial (the test suite's) pushes a day of a dozen orders in batches of 5 to a serve that does
not build by itself, and kills it once, right after it answered the first push 200 (the relay is
armed before the SDK starts): the SDK sends that committed batch again and must get its first answer.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

from chaoslib import checks, steps
from chaoslib.commands import Cli
from chaoslib.deadlines import scaled
from chaoslib.model import DUCKDB, POSTGRES, TrialParams, TrialResult, TrialSpec, register
from chaoslib.serving import KillRelay, ServeProcess
from chaoslib.warehouses import PgServer, dropping, free_port, fresh
from ordersync.aio import run_async
from ordersync.simulator.sdk import Format, PushError, PushTotals, SdkConfig, Stream, generate, push

TENANT = "mobileapp"
START = datetime(2026, 11, 2, tzinfo=UTC)
ENV = {"ORDERSYNC__SERVE__BUILD_EVERY_SECONDS": "4"}  # serve builds between pushes: kills land in builds too
RANDOM, AFTER_COMMIT = "at a random moment", "right after answering a push 200 (the answer lost)"


def _setup(cli: Cli, result: TrialResult, init: bool = True) -> str | None:
    """init (unless not asked: `tenants add` creates the schema too), the push tenant and its token;
    None (with the failure) when a step fails."""
    setup = [
        *([["init"]] if init else []),
        ["tenants", "add", TENANT, "--platform", "push", "--timezone", "America/Sao_Paulo", "--frequency-hours", "1"],
    ]
    for args in setup:
        done = cli.run(args)
        if not done.ok:
            result.fail(f"setup: {done.brief()}")
            return None
    made = cli.run(["tokens", "create", "--tenant", TENANT, "--label", "sdk", "--json"])
    if not made.ok:
        result.fail(f"setup: {made.brief()}")
        return None
    token: str = made.json()["token"]
    return token


def sdk_stream(per_day: int, days: int, rng: random.Random) -> Stream:
    """The mobile SDK's pushed stream the push trials send: late, duplicated events, seeded by `rng`."""
    return generate(
        SdkConfig(
            orders_per_day=per_day,
            days=days,
            seed=rng.randrange(1 << 30),
            late_share=0.1,
            max_delay_hours=48,
            duplicate_rate=0.05,
            start=START,
        )
    )


def _pushes(p: TrialParams) -> tuple[int, int, int]:
    """(orders per day, days, batch size) of the stream."""
    return p.pick((90, 3, 20), (50, 3, 20), (12, 1, 5))


def trial(p: TrialParams, rng: random.Random) -> TrialResult:
    result = TrialResult(trials=1)
    kills = int(p.option("kills"))
    per_day, days, batch_size = _pushes(p)
    stream = sdk_stream(per_day, days, rng)
    fmt: Format = "json" if rng.random() < 0.5 else "ndjson"
    server = PgServer() if p.warehouse != DUCKDB else None
    with dropping(fresh(p.warehouse, p.workdir, "push", server)) as wh:
        cli = Cli(p.workdir, wh.url, None)
        token = _setup(cli, result, init=not p.smoke)
        if token is None:
            return result
        # the smoke's serve does not build by itself (its kill is not timed to land in a build)
        serve = ServeProcess(
            cli, free_port(), {**ENV, "ORDERSYNC__SERVE__BUILD_EVERY_SECONDS": "3600"} if p.smoke else ENV
        )
        try:
            serve.start()
        except RuntimeError as exc:
            result.fail(f"serve: {exc}")
            return result
        outcome: dict[str, Any] = {}

        def pusher(url: str) -> None:
            try:
                outcome["totals"] = run_async(
                    push(
                        stream,
                        url,
                        TENANT,
                        token,
                        batch_size=batch_size,
                        fmt=fmt,
                        max_attempts=200,
                        backoff_base=0.05,
                        backoff_max=0.5,
                        timeout=120,
                    )
                )
            except PushError as exc:
                outcome["error"], outcome["totals"] = str(exc), exc.totals
            except Exception as exc:  # the harness reports it as a failure of the trial
                outcome["error"] = f"{type(exc).__name__}: {exc}"

        def is_push(method: str, path: str) -> bool:
            return path.startswith("/v1/tenants/")

        with KillRelay(serve.url, serve.kill) as relay:
            thread = threading.Thread(target=pusher, args=(relay.url,), name="sdk-push", daemon=True)
            began = time.monotonic()
            # the smoke's one kill: right after the first push 200, armed before the SDK starts
            armed = relay.arm(is_push, pass_answer=False) if p.smoke else None
            thread.start()
            first = 1 if p.smoke else rng.randrange(2)
            try:
                for k in range(kills):
                    if not thread.is_alive():
                        break
                    mode = (RANDOM, AFTER_COMMIT)[(k + first) % 2]
                    killed = False
                    if mode == RANDOM:
                        time.sleep(rng.uniform(0.05, 1.5))
                        killed = thread.is_alive() and serve.kill()
                    else:
                        fired = armed if armed is not None else relay.arm(is_push, pass_answer=False)
                        armed = None
                        while thread.is_alive() and not fired.wait(0.1):
                            pass
                        relay.disarm()
                        killed = fired.is_set() and not serve.alive()
                    if killed:
                        result.faults += 1
                        result.note(f"serve killed {mode}, {time.monotonic() - began:.1f} s into the push")
                    time.sleep(rng.uniform(0.0, 0.6))  # down a while: the SDK's retries meet 502s
                    if not serve.alive():
                        serve.start()
            except RuntimeError as exc:
                result.fail(f"serve did not come back after a kill: {exc}")
            thread.join(timeout=scaled(900))
            replayed, lost_answers = relay.counts["replayed"], relay.counts["answer lost"]
        code = serve.stop()
        if code not in (0, None):
            result.fail(f"serve exited {code} when stopped: {serve.output()[-400:]}")
        if thread.is_alive():
            result.fail(f"the SDK was still pushing {scaled(900):g} s after it started")
        if "error" in outcome:
            result.fail(f"the SDK's push failed: {outcome['error'][:400]}")
        result.note(f"{lost_answers} answers lost after a commit, {replayed} retries answered by their first answer")
        steps.build(cli, result, "`ordersync build` after the pushes", in_process=p.smoke)
        totals: PushTotals | None = outcome.get("totals")
        _check(result, wh.connect, stream, totals)
    return result


def _check(result: TrialResult, connect: Any, stream: Any, totals: PushTotals | None) -> None:
    want = {checks.event_key(e.order_id, e.event_time, e.status) for e in stream.events}
    with connect() as reader:
        landed = checks.landed_events(reader, TENANT)
        state = checks.check_tenant(reader, TENANT, checks.event_truth_rows(stream.truth))
        tid = checks.tenant_id(reader, TENANT)
        held = int(reader.scalar("SELECT count(*) FROM cdp.quarantine WHERE tenant_id = ?", (tid,)) or 0)
        fct_copies = int(
            reader.scalar("SELECT count(*) - count(DISTINCT order_id) FROM cdp.fct_orders WHERE tenant_id = ?", (tid,))
            or 0
        )
    missing = sorted(want - set(landed))
    extra = sorted(set(landed) - want)
    copies = sum(n - 1 for n in landed.values())
    result.orders_checked += state.checked
    result.versions_lost += len(missing) + state.lost
    result.versions_doubled += copies + len(extra) + fct_copies
    if missing:
        result.fail(f"{len(missing)} of the stream's {len(want)} events never landed, e.g. {_show(missing[:3])}")
    if copies:
        result.fail(f"{copies} events landed more than once")
    if extra:
        result.fail(f"{len(extra)} landed versions are no event of the stream, e.g. {_show(extra[:3])}")
    result.failures += state.problems
    if held:
        result.fail(f"{held} pushed events were quarantined; the stream holds no bad event")
    if totals is not None:
        if totals.landed != len(want):
            result.fail(
                f"the answers say {totals.landed} events landed, the stream has {len(want)} distinct ones "
                "(a retry of a committed batch must get the first answer back)"
            )
        if totals.rejected or totals.quarantined:
            result.fail(f"batches refused {totals.rejected[:2]} or events quarantined ({totals.quarantined})")


def _show(keys: list[checks.EventKey]) -> str:
    return ", ".join(f"{o} {t.isoformat()} {s}" for o, t, s in keys)


register(
    TrialSpec(
        name="push-kill-9",
        fn=trial,
        title="kill -9 of ordersync serve during pushes",
        doc=(
            "`ordersync serve` (a child process, building every 4 s) takes the mobile SDK's seeded stream "
            "(three days of about 90 orders a day: late, 5% sent twice, each batch shuffled; 20 events a "
            "batch, JSON arrays or NDJSON by trial), pushed with its Idempotency-Keys and retries through a "
            "relay that answers 502 while serve is down. Serve is SIGKILLed at random moments and, every "
            "other kill, right after it answered a push 200 (the relay drops that answer, so the SDK sends "
            "the committed batch again), and restarted on the same port. Checked: every distinct event of "
            "the stream is in cdp.orders_landing exactly once by (order_id, event_time, status) and nothing "
            "else is; the SDK's answers add up to the stream's distinct events (a retried batch got its "
            "first answer back); nothing quarantined; serve exits 0 on SIGTERM; after `ordersync build`, "
            "fct_orders equals the SDK's truth (status, total, event time) with one row per order."
        ),
        published=10,
        short=1,
        smoke_on=(POSTGRES,),  # the suite's smoke: one warehouse (the published runs: both)
        smoke_doc=(
            "One day of 12 orders, 5 events a batch, a serve that does not build by itself (one build at the "
            "end). One kill, right after serve answered the first push 200 (the relay is armed "
            "before the SDK starts): the SDK sends that committed batch again and must get its first answer."
        ),
        options={"kills": 6, "kills_short": 3, "kills_smoke": 1},
    )
)
