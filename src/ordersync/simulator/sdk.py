"""A mobile SDK's order events: a seeded stream of full order snapshots, late, duplicated and out of order.

Each order goes order-created → payment-approved → invoiced, or is canceled on the way. Every event
is a snapshot of the order as of its event_time, in the push API's shape. The phone queues events:
most reach the server seconds to minutes after they happen, a share of them hours later (the app was
offline), some are sent twice (an acknowledgement was lost), and a batch is sent in no particular
order. The stream can be pushed over HTTP in batches or written as hourly NDJSON files, and it comes
with its truth: each order's final state.

Who places each order and what it is worth come from a population of customers who arrive, buy and
leave (population.py, seeded numpy draws); the rest uses `random.Random.random()` draws alone,
whose sequence Python guarantees for a seed across versions. The truth says who placed each order.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import aiohttp
import numpy as np
import orjson

from ordersync.simulator.config import IdentityShares, PopulationParams
from ordersync.simulator.people import customer, mix, order_hex
from ordersync.simulator.population import StorePopulation, hours_in_day, order_identifiers

CREATED = "order-created"
PAID = "payment-approved"
INVOICED = "invoiced"
CANCELED = "canceled"
STATUSES = (CREATED, PAID, INVOICED, CANCELED)

DEFAULT_BATCH_SIZE = 500
_HOUR = 3600.0
_DAY = 86_400.0
# Device clocks of Brazilian customers: Brasília time for most, Manaus and Acre for some.
_BRASILIA, _MANAUS, _ACRE = (timezone(timedelta(hours=h)) for h in (-3, -4, -5))
_APP_VERSIONS = ("4.9.3", "4.10.0", "4.10.2", "4.11.1", "5.0.0")
# Orders per hour of the day in Brazil time: quiet nights, lunch and evening peaks (as the store's).
_HOURLY = (0.9, 0.5, 0.3, 0.2, 0.15, 0.2, 0.4, 0.8, 1.3, 1.8, 2.1, 2.3,
           2.3, 2.2, 2.1, 2.0, 2.0, 2.0, 2.1, 2.3, 2.6, 2.7, 2.2, 1.5)  # fmt: skip
# Brazil time is UTC-3: the local hour h starts at UTC hour h + 3.
_UTC_HOURLY = np.roll(np.array(_HOURLY), 3)


@dataclass(frozen=True)
class SdkConfig:
    """What to generate. The window is `days` days from `start`; without a start it ends at the current hour."""

    orders_per_day: float = 200.0
    days: int = 7
    seed: int = 42
    late_share: float = 0.1
    max_delay_hours: float = 48.0
    duplicate_rate: float = 0.02
    cancel_share: float = 0.1
    start: datetime | None = None
    currency_code: str = "BRL"
    population: PopulationParams = field(default_factory=PopulationParams)
    identities: IdentityShares = field(default_factory=IdentityShares)

    def __post_init__(self) -> None:
        if self.orders_per_day < 0 or self.days < 1:
            raise ValueError("orders_per_day must be >= 0 and days >= 1")
        for name in ("late_share", "duplicate_rate", "cancel_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.max_delay_hours < 0:
            raise ValueError("max_delay_hours must be >= 0")
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start needs a time zone")

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        if self.start is not None:
            start = self.start.astimezone(UTC)
        else:
            current = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            start = current - timedelta(days=self.days)
        return start, start + timedelta(days=self.days)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = None if self.start is None else self.start.isoformat()
        return out


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


@dataclass(frozen=True, slots=True)
class SdkEvent:
    order_id: str
    status: str
    event_time: datetime
    arrival: datetime  # when the phone's queue gets it to the server
    late: bool  # held back by the device (offline), not just the usual seconds
    resend: bool  # the second copy of a duplicated event
    cents: int
    line: bytes  # the event as sent: one JSON object, no newline


@dataclass
class Stream:
    """The events in arrival order, and each order's final snapshot."""

    config: SdkConfig
    window_start: datetime
    window_end: datetime
    events: list[SdkEvent]
    truth: dict[str, dict[str, Any]]
    people: dict[str, int] = field(default_factory=dict)  # order id -> the person who placed it

    def batches(self, batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[SdkEvent]]:
        """Consecutive arrivals, `batch_size` at a time, each batch shuffled (seeded by batch number)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        out: list[list[SdkEvent]] = []
        for number, i in enumerate(range(0, len(self.events), batch_size)):
            batch = list(self.events[i : i + batch_size])
            _shuffle(batch, random.Random(mix(self.config.seed, number, 0xBA7C4)))
            out.append(batch)
        return out

    def summary(self) -> dict[str, Any]:
        finals = self.truth.values()
        total = sum((Decimal(o["total_value"]) for o in finals if o["status"] != CANCELED), Decimal("0.00"))
        unique = [e for e in self.events if not e.resend]
        return {
            "orders": len(self.truth),
            "events": len(unique),
            "sent": len(self.events),
            "late_events": sum(1 for e in unique if e.late),
            "duplicates": len(self.events) - len(unique),
            "final_status": dict(sorted(Counter(o["status"] for o in finals).items())),
            "total_value": str(total),
            "currency_code": self.config.currency_code,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "first_arrival": self.events[0].arrival.isoformat() if self.events else None,
            "last_arrival": self.events[-1].arrival.isoformat() if self.events else None,
        }

    def truth_json(self) -> bytes:
        body = {
            "config": self.config.to_json(),
            "summary": self.summary(),
            "orders": [self.truth[k] for k in sorted(self.truth)],
            "people": {k: self.people[k] for k in sorted(self.people)},
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def _shuffle(items: list[SdkEvent], rng: random.Random) -> None:
    """Fisher-Yates on random() alone (random.shuffle's draws are not promised stable)."""
    for i in range(len(items) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]


class _Draw:
    """The distributions the generator needs, all from random()."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def u(self, lo: float = 0.0, hi: float = 1.0) -> float:
        return lo + (hi - lo) * self.rng.random()

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def exp(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.rng.random())

    def normal(self) -> float:
        u1 = 1.0 - self.rng.random()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * self.rng.random())

    def index(self, weights: Sequence[float]) -> int:
        x = self.rng.random() * sum(weights)
        for i, w in enumerate(weights):
            x -= w
            if x < 0:
                return i
        return len(weights) - 1


def _iso(at: datetime, zone: timezone) -> str:
    return at.astimezone(zone).isoformat(timespec="milliseconds")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def generate(config: SdkConfig, now: datetime | None = None) -> Stream:
    """The stream of `config`: the same config (and window) always gives the same events and bytes."""
    start, end = config.window(now)
    draw = _Draw(mix(config.seed, 0x5D4))
    salt = mix(config.seed, 0xA99)
    prefix = f"{mix(config.seed, 0x1D) % 16**6:06X}"
    population = StorePopulation(
        config.population,
        config.identities,
        (config.seed, 0x5D4, 0x9E0),
        config.orders_per_day,
        config.days,
        vtex=False,
    )

    events: list[SdkEvent] = []
    truth: dict[str, dict[str, Any]] = {}
    people: dict[str, int] = {}
    number = 0
    for day in range(config.days):
        day_start = start + timedelta(days=day)
        # seconds since UTC midnight where this 24-hour slice begins (the window may start mid-day)
        offset = day_start.hour * _HOUR + day_start.minute * 60 + day_start.second
        bought = population.step(1.0)
        seconds = hours_in_day(bought.at, _UTC_HOURLY) * _HOUR
        for i in np.argsort(seconds, kind="stable").tolist():
            number += 1
            created = _ms(day_start + timedelta(seconds=(float(seconds[i]) - offset) % _DAY))
            who = int(bought.person[i])
            person = customer(salt, who)
            ids = order_identifiers(person, int(bought.ident[i]), order_hex(salt, number))
            h = mix(salt, who, 0xDE)
            zone = _BRASILIA if h % 100 < 85 else _MANAUS if h % 100 < 95 else _ACRE
            app_version = _APP_VERSIONS[(h >> 8) % len(_APP_VERSIONS)]
            cents = int(bought.cents[i])
            timeline = _timeline(draw, created, config.cancel_share)
            order_id = f"APP-{prefix}-{number:07d}"
            base = {
                "order_id": order_id,
                "event_time": "",
                "status": "",
                "total_value": _money(cents),
                "currency_code": config.currency_code,
                "creation_date": _iso(created, zone),
                "sales_channel": "app",
                "customer": {
                    "id": ids.platform_id,
                    "email": ids.email,
                    "name": person.full_name,
                    "document": ids.document,
                    "document_type": None if ids.document is None else "cpf",
                    "phone": ids.phone,
                },
                "app_version": app_version,
            }
            for status, when in timeline:
                at = _ms(when)
                if at >= end:
                    break  # not happened yet when the window closes
                snapshot = {**base, "event_time": _iso(at, zone), "status": status}
                line = orjson.dumps(snapshot)
                late = draw.chance(config.late_share)
                delay = draw.u(0, config.max_delay_hours * _HOUR) if late else min(600.0, 1.0 + draw.exp(20.0))
                arrival = _ms(at + timedelta(seconds=delay))
                events.append(SdkEvent(order_id, status, at, arrival, late, False, cents, line))
                if draw.chance(config.duplicate_rate):  # sent again: the acknowledgement was lost
                    again = _ms(arrival + timedelta(seconds=draw.u(1.0, 120.0)))
                    events.append(SdkEvent(order_id, status, at, again, late, True, cents, line))
                truth[order_id] = snapshot
                people[order_id] = who

    order = sorted(range(len(events)), key=lambda i: (events[i].arrival, i))
    return Stream(config, start, end, [events[i] for i in order], truth, people)


def _ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _timeline(draw: _Draw, created: datetime, cancel_share: float) -> list[tuple[str, datetime]]:
    """created → paid → invoiced, or canceled before payment (unpaid bank slip) or after it."""
    steps = [(CREATED, created)]
    slow = draw.chance(0.2)  # bank slips are paid a day or two later
    paid = created + timedelta(seconds=draw.u(_DAY, 2 * _DAY) if slow else 30 + draw.exp(240.0))
    if draw.chance(cancel_share):
        if draw.chance(0.5):
            steps.append((CANCELED, created + timedelta(seconds=draw.u(0.5 * _HOUR, 2 * _DAY))))
        else:
            steps.append((PAID, paid))
            steps.append((CANCELED, paid + timedelta(seconds=draw.u(_HOUR, _DAY))))
        return steps
    steps.append((PAID, paid))
    steps.append((INVOICED, paid + timedelta(seconds=draw.u(2 * _HOUR, 36 * _HOUR))))
    return steps


# Files --------------------------------------------------------------------------------------------


def file_name(arrival: datetime) -> str:
    return f"events-{arrival.astimezone(UTC):%Y-%m-%dT%H}.ndjson"


def write_files(stream: Stream, directory: Path, batch_size: int = DEFAULT_BATCH_SIZE) -> list[Path]:
    """One NDJSON file per arrival hour (UTC), lines in the order they would be sent."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[bytes]] = {}
    for batch in stream.batches(batch_size):
        for event in batch:
            files.setdefault(file_name(event.arrival), []).append(event.line)
    paths: list[Path] = []
    for name in sorted(files):
        path = directory / name
        path.write_bytes(b"\n".join(files[name]) + b"\n")
        paths.append(path)
    return paths


# Push ---------------------------------------------------------------------------------------------

Format = Literal["ndjson", "json"]


@dataclass
class PushTotals:
    """What the receiver said, summed over the batches."""

    batches: int = 0
    requests: int = 0  # HTTP attempts, retries included
    retries: int = 0
    received: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"batch", "index", "reason"}
    rejected: list[dict[str, Any]] = field(default_factory=list)  # batches refused with a 4xx: {"batch", ...}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PushError(Exception):
    """Pushing stopped: the receiver refused the credentials or kept failing; `totals` holds what got through."""

    def __init__(self, message: str, totals: PushTotals) -> None:
        super().__init__(message)
        self.totals = totals


def idempotency_key(config: SdkConfig, batch_size: int, fmt: Format, number: int) -> str:
    """Deterministic per batch: the seed, the rest of what shapes the batch's bytes, and its number."""
    shape = orjson.dumps({**config.to_json(), "batch_size": batch_size, "format": fmt}, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(b"ordersync-sdk:" + shape).hexdigest()[:16]
    return f"sdk-{config.seed}-{digest}-{number:06d}"


def batch_body(batch: Sequence[SdkEvent], fmt: Format) -> bytes:
    if fmt == "json":
        return b"[" + b",".join(e.line for e in batch) + b"]"
    return b"".join(e.line + b"\n" for e in batch)


@dataclass(frozen=True)
class _Retry:
    max_attempts: int
    backoff_base: float
    backoff_max: float
    timeout: float


_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


async def push(
    stream: Stream,
    url: str,
    tenant: str,
    token: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fmt: Format = "ndjson",
    max_attempts: int = 8,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    timeout: float = 60.0,
    session: aiohttp.ClientSession | None = None,
    on_batch: Callable[[int, PushTotals], None] | None = None,
) -> PushTotals:
    """POST the stream's batches to {url}/v1/tenants/{tenant}/orders, one after another.

    5xx, 408/425/429 and connection errors are retried with the same Idempotency-Key after
    backoff_base * 2**n seconds (a 429's Retry-After when longer); 401/403 stop at once; other 4xx
    answers reject the batch and pushing goes on.
    """
    endpoint = f"{url.rstrip('/')}/v1/tenants/{tenant}/orders"
    content_type = "application/json" if fmt == "json" else "application/x-ndjson"
    totals = PushTotals()
    policy = _Retry(max_attempts, backoff_base, backoff_max, timeout)
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        for number, batch in enumerate(stream.batches(batch_size)):
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": content_type,
                "Idempotency-Key": idempotency_key(stream.config, batch_size, fmt, number),
            }
            body = batch_body(batch, fmt)
            answer = await _send(client, endpoint, headers, body, number, totals, policy)
            totals.batches += 1
            if answer is not None:
                _add(totals, number, answer)
            if on_batch is not None:
                on_batch(number, totals)
    finally:
        if own:
            await client.close()
    return totals


async def _send(
    client: aiohttp.ClientSession,
    endpoint: str,
    headers: dict[str, str],
    body: bytes,
    number: int,
    totals: PushTotals,
    policy: _Retry,
) -> Any:
    """The receiver's JSON answer, or None when it rejected the batch."""
    last = ""
    max_attempts, backoff_max = policy.max_attempts, policy.backoff_max
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            totals.retries += 1
        totals.requests += 1
        wait = min(backoff_max, policy.backoff_base * 2 ** (attempt - 1))
        try:
            async with client.post(
                endpoint, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=policy.timeout)
            ) as resp:
                text = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After", "")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if 200 <= status < 300:
                try:
                    return orjson.loads(text)
                except orjson.JSONDecodeError:
                    raise PushError(
                        f"batch {number}: the receiver answered {status} without a JSON body", totals
                    ) from None
            if status in (401, 403):
                raise PushError(f"batch {number}: the receiver refused the token ({status}): {_short(text)}", totals)
            if status not in _RETRY_STATUSES:
                totals.rejected.append({"batch": number, "status": status, "body": _short(text)})
                return None
            last = f"HTTP {status}: {_short(text)}"
            if retry_after.isdigit():
                wait = max(wait, min(float(retry_after), backoff_max))
        if attempt < max_attempts:
            await asyncio.sleep(wait)
    raise PushError(f"batch {number}: gave up after {max_attempts} attempts; last: {last}", totals)


def _short(text: bytes) -> str:
    return text[:300].decode("utf-8", "replace")


def _add(totals: PushTotals, number: int, answer: Any) -> None:
    if not isinstance(answer, dict):
        raise PushError(f"batch {number}: the receiver's answer is not a JSON object", totals)
    for name in ("received", "landed", "duplicates", "quarantined"):
        value = answer.get(name, 0)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(totals, name, getattr(totals, name) + value)
    for error in answer.get("errors") or []:
        if isinstance(error, dict):
            totals.errors.append({"batch": number, "index": error.get("index"), "reason": error.get("reason")})
