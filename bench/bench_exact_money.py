"""What reading a pushed total exactly costs: a 500-event JSON array (and NDJSON body) read into items
and parsed into versions, with every total a decimal string (the fast path, as before), an integer,
or a JSON number with a fraction (each such element's bytes read again with the standard library,
Decimal totals). Prints the best time per batch of the repeats (the machine is shared: the least
disturbed run) and events per second for each.

    .venv/bin/python bench/bench_exact_money.py [--events 500] [--repeat 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import orjson

from ordersync.land.intake import Item
from ordersync.sources.push.bodies import json_items, ndjson_items
from ordersync.sources.push.events import parse_pushed

UTC = ZoneInfo("UTC")


def events(n: int, total: Callable[[int], bytes]) -> list[bytes]:
    out = []
    for i in range(n):
        doc = {
            "order_id": f"A-{i:06d}",
            "event_time": "2026-12-01T10:15:00Z",
            "status": "payment-approved",
            "total_value": 0,
            "currency_code": "BRL",
            "creation_date": "2026-12-01T10:02:00Z",
            "sales_channel": "app",
            "customer": {"id": f"c-{i}", "email": f"c{i}@example.com", "name": "Ana Lima"},
            "items": [{"sku": f"s-{k}", "quantity": 1, "price": "10.00"} for k in range(3)],
        }
        out.append(orjson.dumps(doc).replace(b'"total_value":0', b'"total_value":' + total(i)))
    return out


def seconds(body: bytes, reader: Callable[[bytes], list[Item]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for item in reader(body):
            parse_pushed(item, UTC)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kinds: dict[str, Callable[[int], bytes]] = {
        "string totals": lambda i: f'"{i * 7 % 100_000}.{i % 100:02d}"'.encode(),
        "integer totals": lambda i: str(i * 7 % 100_000).encode(),
        "number totals with cents": lambda i: f"{123456789 + i}.{i % 90 + 10}".encode(),
    }
    results = []
    for name, total in kinds.items():
        lines = events(args.events, total)
        for fmt, body, reader in (
            ("json", b"[" + b",".join(lines) + b"]", json_items),
            ("ndjson", b"\n".join(lines), ndjson_items),
        ):
            s = seconds(body, reader, args.repeat)
            results.append({"totals": name, "format": fmt, "ms_per_batch": round(s * 1000, 2),
                            "events_per_second": round(args.events / s)})  # fmt: skip
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.events} events a batch, best of {args.repeat}")
    for r in results:
        print(
            f"  {r['totals']:<26} {r['format']:<7} {r['ms_per_batch']:>8.2f} ms  {r['events_per_second']:>9,} events/s"
        )


if __name__ == "__main__":
    main()
