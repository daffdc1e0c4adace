"""`python -m ordersync.simulator`: serve, and print one JSON line {"event": "ready", "url": ...}."""

from __future__ import annotations

import argparse
import json
import sys

from ordersync.simulator.config import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_TOKEN,
    DEFAULT_DAYS,
    DEFAULT_EVENT_DUPLICATE_RATE,
    DEFAULT_FEED_VISIBILITY_TIMEOUT_SECONDS,
    DEFAULT_HOOK_RETRY_BASE_SECONDS,
    DEFAULT_HOST,
    DEFAULT_INDEX_LAG_SECONDS,
    DEFAULT_ORDERS_PER_DAY,
    DEFAULT_PORT,
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    DEFAULT_SEED,
    SimulatorConfig,
    default_accounts,
    parse_account_spec,
    parse_start,
)
from ordersync.simulator.server import READY_EVENT, serve


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    p = argparse.ArgumentParser(prog="python -m ordersync.simulator", description="VTEX-compatible store simulator")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--accounts", type=int, default=3, help="store1..storeN")
    p.add_argument("--orders-per-day", type=float, default=DEFAULT_ORDERS_PER_DAY)
    p.add_argument("--account", action="append", default=[], help="NAME:ORDERS_PER_DAY[:DAYS], repeatable")
    p.add_argument("--days", type=float, default=DEFAULT_DAYS)
    p.add_argument("--index-lag-seconds", type=float, default=DEFAULT_INDEX_LAG_SECONDS)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--rate-limit-per-minute", type=float, default=DEFAULT_RATE_LIMIT_PER_MINUTE)
    p.add_argument("--app-key", default=DEFAULT_APP_KEY)
    p.add_argument("--app-token", default=DEFAULT_APP_TOKEN)
    p.add_argument("--start", default=None, help="simulated now at startup (ISO-8601); default: the real now")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--event-duplicate-rate", type=float, default=DEFAULT_EVENT_DUPLICATE_RATE)
    p.add_argument("--feed-visibility-timeout-seconds", type=int, default=DEFAULT_FEED_VISIBILITY_TIMEOUT_SECONDS)
    p.add_argument("--hook-timeout-seconds", type=float, default=5.0)
    p.add_argument("--hook-retry-base-seconds", type=float, default=DEFAULT_HOOK_RETRY_BASE_SECONDS)
    p.add_argument("--hook-retry-factor", type=float, default=2.0)
    p.add_argument("--hook-retry-max-seconds", type=float, default=3600.0)
    p.add_argument("--hook-max-attempts", type=int, default=100)
    ns = p.parse_args(argv)
    try:
        accounts = (
            [parse_account_spec(a) for a in ns.account]
            if ns.account
            else default_accounts(ns.accounts, ns.orders_per_day)
        )
        return SimulatorConfig(
            host=ns.host,
            port=ns.port,
            seed=ns.seed,
            accounts=accounts,
            days=ns.days,
            index_lag_seconds=ns.index_lag_seconds,
            fault_rate=ns.fault_rate,
            rate_limit_per_minute=ns.rate_limit_per_minute,
            app_key=ns.app_key,
            app_token=ns.app_token,
            start=parse_start(ns.start) if ns.start else None,
            speed=ns.speed,
            event_duplicate_rate=ns.event_duplicate_rate,
            feed_visibility_timeout_seconds=ns.feed_visibility_timeout_seconds,
            hook_timeout_seconds=ns.hook_timeout_seconds,
            hook_retry_base_seconds=ns.hook_retry_base_seconds,
            hook_retry_factor=ns.hook_retry_factor,
            hook_retry_max_seconds=ns.hook_retry_max_seconds,
            hook_max_attempts=ns.hook_max_attempts,
        )
    except ValueError as exc:
        p.error(str(exc))


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)

    def ready(url: str) -> None:
        print(json.dumps({"event": READY_EVENT, "url": url}), flush=True)

    try:
        serve(config, on_ready=ready)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
