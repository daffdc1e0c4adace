"""The mobile SDK's event stream: determinism, shape, lateness, duplicates, truth, files, and pushing to a
real HTTP receiver that answers like the push API's contract."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ordersync.cli.simulator import app as simulator_cli
from ordersync.simulator.sdk import (
    CANCELED,
    CREATED,
    INVOICED,
    PAID,
    PushError,
    SdkConfig,
    Stream,
    file_name,
    generate,
    push,
    write_files,
)
from support.receiver import Receiver, Recorded

START = datetime(2026, 12, 1, tzinfo=UTC)
CONFIG = SdkConfig(orders_per_day=400, days=3, seed=11, start=START)
KEYS = {
    "order_id",
    "event_time",
    "status",
    "total_value",
    "currency_code",
    "creation_date",
    "sales_channel",
    "customer",
    "app_version",
}
MONEY = re.compile(r"^\d+\.\d{2}$")
ZONED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")
STEPS_BEFORE: dict[str, tuple[str, ...]] = {CREATED: (), PAID: (CREATED,), INVOICED: (CREATED, PAID)}
CANCELED_AFTER = ((CREATED,), (CREATED, PAID))


@pytest.fixture(scope="module")
def stream() -> Stream:
    return generate(CONFIG)


def test_same_seed_same_bytes_other_seed_other_bytes(stream: Stream, tmp_path: Path) -> None:
    again = generate(CONFIG)
    assert [e.line for e in again.events] == [e.line for e in stream.events]
    assert [[e.line for e in b] for b in again.batches(250)] == [[e.line for e in b] for b in stream.batches(250)]
    assert again.truth_json() == stream.truth_json()
    first, second = tmp_path / "a", tmp_path / "b"
    write_files(stream, first)
    write_files(again, second)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and len(names) > 24
    assert all((first / n).read_bytes() == (second / n).read_bytes() for n in names)
    other = generate(SdkConfig(orders_per_day=400, days=3, seed=12, start=START))
    assert {e.line for e in other.events}.isdisjoint({e.line for e in stream.events})


def test_every_event_is_a_full_snapshot_in_the_push_shape(stream: Stream) -> None:
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in stream.events:
        if event.resend:
            continue
        item = json.loads(event.line)
        assert set(item) == KEYS
        assert set(item["customer"]) == {"id", "email", "name", "document", "document_type", "phone"}
        assert (item["customer"]["document"] is None) == (item["customer"]["document_type"] is None)
        assert MONEY.match(item["total_value"]) and Decimal(item["total_value"]) > 0
        assert item["currency_code"] == "BRL" and item["sales_channel"] == "app"
        assert ZONED.match(item["event_time"]) and ZONED.match(item["creation_date"])
        event_time = datetime.fromisoformat(item["event_time"])
        assert START <= datetime.fromisoformat(item["creation_date"]) <= event_time < START + timedelta(days=3)
        assert event.event_time == event_time and event.arrival >= event_time
        by_order[item["order_id"]].append(item)
    assert len(by_order) == len(stream.truth) > 1000
    canceled_paths: Counter[tuple[str, ...]] = Counter()
    first_day, first_day_canceled = 0, 0  # their cancellations fall inside the window: the share shows
    for versions in by_order.values():
        versions.sort(key=lambda v: datetime.fromisoformat(v["event_time"]))
        statuses = tuple(v["status"] for v in versions)
        early = datetime.fromisoformat(versions[0]["creation_date"]) < START + timedelta(days=1)
        first_day += early
        if statuses[-1] == CANCELED:
            assert statuses[:-1] in CANCELED_AFTER, statuses
            canceled_paths[statuses] += 1
            first_day_canceled += early
        else:
            assert statuses[:-1] == STEPS_BEFORE[statuses[-1]], statuses
        # Everything but status and event_time is the same order in every snapshot.
        assert len({json.dumps({**v, "status": "", "event_time": ""}, sort_keys=True) for v in versions}) == 1
    assert len(canceled_paths) == 2  # canceled before payment and after it
    assert 0.06 < first_day_canceled / first_day < 0.14


def test_lateness_and_duplicates_roughly_as_asked(stream: Stream) -> None:
    originals = [e for e in stream.events if not e.resend]
    late = [e for e in originals if e.late]
    assert 0.085 < len(late) / len(originals) < 0.115
    resent = [e for e in stream.events if e.resend]
    assert 0.013 < len(resent) / len(originals) < 0.027
    for e in originals:
        delay = (e.arrival - e.event_time).total_seconds()
        assert 0 <= delay <= (48 * 3600 if e.late else 600)
    late_delays = sorted((e.arrival - e.event_time).total_seconds() for e in late)
    assert late_delays[len(late_delays) // 2] > 12 * 3600  # uniform up to 48 h: the median near 24 h
    lines = Counter(e.line for e in stream.events)
    assert sum(n - 1 for n in lines.values()) == len(resent) and max(lines.values()) == 2
    summary = stream.summary()
    assert summary["late_events"] == len(late) and summary["duplicates"] == len(resent)
    assert summary["events"] == len(originals) and summary["sent"] == len(stream.events)


def test_events_arrive_in_order_but_each_batch_is_shuffled(stream: Stream) -> None:
    arrivals = [e.arrival for e in stream.events]
    assert arrivals == sorted(arrivals)
    batches = stream.batches(500)
    assert sum(len(b) for b in batches) == len(stream.events) and all(len(b) == 500 for b in batches[:-1])
    for earlier, later in itertools.pairwise(batches):
        assert max(e.arrival for e in earlier) <= min(e.arrival for e in later)
    first = batches[0]
    assert [e.arrival for e in first] != sorted(e.arrival for e in first)
    event_times = [e.event_time for e in stream.events]
    assert event_times != sorted(event_times)  # late events arrive after newer ones


def test_the_truth_is_the_latest_event_of_each_order(stream: Stream) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for event in stream.events:
        item = json.loads(event.line)
        held = latest.get(item["order_id"])
        if held is None or datetime.fromisoformat(item["event_time"]) > datetime.fromisoformat(held["event_time"]):
            latest[item["order_id"]] = item
    assert latest == stream.truth
    kept = sum(Decimal(o["total_value"]) for o in latest.values() if o["status"] != CANCELED)
    summary = stream.summary()
    assert Decimal(summary["total_value"]) == kept and summary["orders"] == len(latest)
    assert sum(summary["final_status"].values()) == len(latest)
    written = json.loads(stream.truth_json())
    assert {o["order_id"]: o for o in written["orders"]} == stream.truth
    assert written["summary"] == summary and written["config"]["seed"] == CONFIG.seed
    # Who placed each order: one person each, some of them more than once.
    assert written["people"] == stream.people and set(stream.people) == set(stream.truth)
    assert len(set(stream.people.values())) < len(stream.people)
    assert written["config"]["population"]["alpha"] == CONFIG.population.alpha


def test_files_hold_each_hour_of_arrivals(stream: Stream, tmp_path: Path) -> None:
    paths = write_files(stream, tmp_path, batch_size=300)
    expected: dict[str, Counter[bytes]] = defaultdict(Counter)
    for event in stream.events:
        expected[file_name(event.arrival)][event.line] += 1
    assert sorted(p.name for p in paths) == sorted(expected)
    assert all(re.fullmatch(r"events-\d{4}-\d{2}-\d{2}T\d{2}\.ndjson", p.name) for p in paths)
    for path in paths:
        lines = path.read_bytes().splitlines()
        assert Counter(lines) == expected[path.name]
    total = sum(len(p.read_bytes().splitlines()) for p in paths)
    assert total == len(stream.events)


class PushApi:
    """Answers like the push API: counts new and already-seen items, quarantines what it is told to,
    replays the first answer for a repeated Idempotency-Key, and fails some first attempts with 503."""

    def __init__(self, fail_first: frozenset[int] = frozenset(), quarantine: frozenset[bytes] = frozenset()) -> None:
        self.fail_first = fail_first
        self.quarantine = quarantine
        self.seen: set[bytes] = set()
        self.answers: dict[str, bytes] = {}
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, rec: Recorded) -> tuple[int, bytes]:
        with self.lock:
            key = rec.headers.get("idempotency-key", "")
            self.attempts[key] += 1
            number = int(key.rsplit("-", 1)[1]) if key else -1
            if number in self.fail_first and self.attempts[key] == 1:
                return 503, b'{"detail": "try again"}'
            if key in self.answers:
                return 200, self.answers[key]
            if rec.headers.get("content-type") == "application/json":
                items = [json.dumps(i, ensure_ascii=False, separators=(",", ":")).encode() for i in rec.json()]
            else:
                items = rec.body.splitlines()
            landed = duplicates = 0
            errors = []
            for index, line in enumerate(items):
                if line in self.quarantine:
                    errors.append({"index": index, "reason": "status is not one we know"})
                elif line in self.seen:
                    duplicates += 1
                else:
                    self.seen.add(line)
                    landed += 1
            answer = {
                "received": len(items),
                "landed": landed,
                "duplicates": duplicates,
                "quarantined": len(errors),
                "errors": errors,
            }
            self.answers[key] = json.dumps(answer).encode()
            return 200, self.answers[key]


SMALL = SdkConfig(orders_per_day=150, days=2, seed=5, start=START, duplicate_rate=0.05)


def test_push_sends_batches_with_headers_retries_with_the_same_key_and_sums_the_answers() -> None:
    small = generate(SMALL)
    poison = small.events[7].line
    api = PushApi(fail_first=frozenset({1, 3}), quarantine=frozenset({poison}))
    with Receiver(api) as receiver:
        totals = asyncio.run(
            push(small, receiver.url, "acme", "s3cret", batch_size=100, backoff_base=0.01, backoff_max=0.05)
        )
        requests = receiver.recorded()
    batches = small.batches(100)
    assert totals.batches == len(batches) and totals.requests == len(batches) + 2 and totals.retries == 2
    assert all(r.method == "POST" and r.path == "/v1/tenants/acme/orders" for r in requests)
    assert all(r.headers["authorization"] == "Bearer s3cret" for r in requests)
    assert all(r.headers["content-type"] == "application/x-ndjson" for r in requests)
    keys = [r.headers["idempotency-key"] for r in requests]
    assert len(set(keys)) == len(batches) and Counter(keys).most_common(1)[0][1] == 2
    retried = [r for r in requests if keys.count(r.headers["idempotency-key"]) == 2]
    assert len(retried) == 4 and retried[0].body == retried[1].body  # same key, same bytes
    answered = {r.headers["idempotency-key"]: r.body for r in requests}
    sent = b"".join(answered[k] for k in dict.fromkeys(keys))
    assert sent == b"".join(e.line + b"\n" for b in batches for e in b)
    lines = [e.line for e in small.events]
    assert totals.received == len(lines)
    assert totals.quarantined == lines.count(poison) >= 1
    assert totals.landed == len(set(lines) - {poison})
    assert totals.duplicates == len(lines) - totals.landed - totals.quarantined > 0
    assert totals.errors[0] == {"batch": 0, "index": totals.errors[0]["index"], "reason": "status is not one we know"}
    assert totals.rejected == []
    with pytest.raises(PushError, match="gave up after 2 attempts"):
        asyncio.run(push(small, "http://127.0.0.1:9", "acme", "x", batch_size=100, max_attempts=2, backoff_base=0))


def test_push_as_a_json_array_and_the_errors_that_stop_it() -> None:
    small = generate(SMALL)
    with Receiver(PushApi()) as receiver:
        totals = asyncio.run(push(small, receiver.url, "acme", "t", batch_size=400, fmt="json"))
        bodies = receiver.recorded()
    assert all(r.headers["content-type"] == "application/json" for r in bodies)
    assert [len(r.json()) for r in bodies] == [len(b) for b in small.batches(400)]
    assert totals.received == len(small.events) and totals.landed == len({e.line for e in small.events})

    with Receiver(lambda r: (401, b'{"detail": "bad token"}')) as refusing, pytest.raises(PushError, match="token"):
        asyncio.run(push(small, refusing.url, "acme", "wrong"))
    with Receiver(lambda r: (400, b'{"detail": "no"}')) as rejecting:
        totals = asyncio.run(push(small, rejecting.url, "acme", "t", batch_size=400))
    assert totals.batches == len(small.batches(400)) and len(totals.rejected) == totals.batches
    assert totals.rejected[0] == {"batch": 0, "status": 400, "body": '{"detail": "no"}'}
    with Receiver(lambda r: 503) as down:
        with pytest.raises(PushError, match="gave up after 3 attempts") as caught:
            asyncio.run(push(small, down.url, "acme", "t", max_attempts=3, backoff_base=0.01))
        assert len(down.recorded()) == 3 and caught.value.totals.requests == 3


def test_cli_pushes_or_writes_files_and_prints_the_summary(tmp_path: Path) -> None:
    runner = CliRunner()
    common = ["sdk", "--orders-per-day", "80", "--days", "2", "--seed", "9", "--start", "2026-12-01"]
    api = PushApi()
    with Receiver(api) as receiver:
        result = runner.invoke(
            simulator_cli,
            [*common, "--url", receiver.url, "--tenant", "acme", "--token", "tok", "--batch-size", "50",
             "--truth", str(tmp_path / "truth.json"), "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        pushed = receiver.recorded()
    summary = json.loads(result.stdout)
    stream = generate(SdkConfig(orders_per_day=80, days=2, seed=9, start=START))
    assert summary["orders"] == len(stream.truth) and summary["sent"] == len(stream.events)
    assert summary["push"]["received"] == len(stream.events) == sum(len(r.body.splitlines()) for r in pushed)
    assert summary["push"]["landed"] + summary["push"]["duplicates"] == len(stream.events)
    assert json.loads((tmp_path / "truth.json").read_text())["orders"] == [
        stream.truth[k] for k in sorted(stream.truth)
    ]
    out = tmp_path / "files"
    result = runner.invoke(simulator_cli, [*common, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "orders" in result.stdout and "hourly files" in result.stdout
    assert sum(len(p.read_bytes().splitlines()) for p in out.iterdir()) == len(stream.events)
    again = tmp_path / "again"
    assert runner.invoke(simulator_cli, [*common, "--out", str(again)]).exit_code == 0
    assert all((out / p.name).read_bytes() == p.read_bytes() for p in again.iterdir())
    assert runner.invoke(simulator_cli, [*common]).exit_code == 2  # neither a URL nor a directory
    assert runner.invoke(simulator_cli, [*common, "--out", str(out), "--url", "http://x"]).exit_code == 2
