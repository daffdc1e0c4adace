"""`ordersync ingest FILE...` as a user runs it, and `ordersync land`, its older name: totals per
file, the first reasons, a file already ingested, an unreadable file failing only itself."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import orjson
import pytest

from factories import push_event, vtex_order
from ordersync.facade import Ordersync
from support.cli import ordersync
from support.sim import settings_for


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return ordersync(["--warehouse", str(cwd / "wh.duckdb"), *args], cwd, columns=80)


def event(i: int) -> dict[str, object]:
    # every field spelled out: the CSV file below repeats E-0's
    return push_event(
        f"E-{i}",
        event_time="2026-12-01T10:15:00Z",
        status="invoiced",
        total_value="19.90",
        currency_code="BRL",
        creation_date="2026-12-01T10:00:00Z",
        customer={"id": f"c-{i}", "email": f"c{i}@example.com"},
    )


def body(i: int) -> bytes:
    """A VTEX get-order body, spelled as VTEX spells it (not as orjson would)."""
    return json.dumps(
        vtex_order(
            f"v-{i}",
            creationDate="2026-12-01T10:00:00.0000000+00:00",
            lastChange="2026-12-01T11:00:00.0000000+00:00",
        )
    ).encode()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    with Ordersync(settings_for(str(tmp_path / "wh.duckdb"), tmp_path)) as app:
        app.add_tenant("shop", platform="push", account=None, base_url=None, app_key_env=None, app_token_env=None)
    return tmp_path


def test_land_is_ingest_under_its_older_name(workdir: Path) -> None:
    # what `ordersync land` always took: VTEX bodies, one per line
    lines = [body(1), b"{not json", body(2), b"", body(3)]
    path = workdir / "orders.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    done = run(["land", "--tenant", "shop", str(path)], workdir)
    assert done.returncode == 0, done.stderr
    assert "orders.jsonl: 4 records: 3 new versions landed, 1 quarantined, 0 duplicates" in done.stdout
    assert "quarantined: orders.jsonl line 2: payload is not valid JSON" in done.stdout
    with Ordersync(settings_for(str(workdir / "wh.duckdb"), workdir)) as app:
        payloads = app.wh.query("SELECT payload FROM cdp.orders_landing ORDER BY order_id")
    assert [p[0].encode() for p in payloads] == [body(1), body(2), body(3)]  # byte for byte, as before


def test_ingest_reports_each_file_and_fails_only_for_an_unreadable_one(workdir: Path) -> None:
    hour = workdir / "hour-10.ndjson.gz"
    hour.write_bytes(gzip.compress(b"\n".join(json.dumps(event(i)).encode() for i in range(12)) + b"\n"))
    table = workdir / "hour-11.csv"
    rows = [
        "order_id,event_time,status,total_value,currency_code,creation_date,customer.id,customer.email",
        "E-0,2026-12-01T10:15:00Z,invoiced,19.90,BRL,2026-12-01T10:00:00Z,c-0,c0@example.com",  # seen already
        "E-20,2026-12-01T12:00:00Z,invoiced,12,50,BRL,2026-12-01T12:00:00Z,c-20,x",  # an unquoted comma
        *(f"E-{i},2026-12-01T12:00:00Z,invoiced,5,BRL,2026-12-01T12:00:00Z,,b{i}" for i in range(21, 28)),
    ]
    table.write_text("\n".join(rows) + "\n")
    broken = workdir / "hour-12.ndjson.gz"
    broken.write_bytes(b'{"order_id": "not gzip"}\n')
    done = run(["ingest", "-t", "shop", str(hour), str(broken), str(table)], workdir)
    assert done.returncode == 1, done.stderr
    out = done.stdout.splitlines()
    assert "hour-10.ndjson.gz: 12 records: 12 new versions landed, 0 quarantined, 0 duplicates" in out
    assert "hour-11.csv: 9 records: 7 new versions landed, 1 quarantined, 1 duplicates" in out
    assert "  quarantined: hour-11.csv line 3: the row has 9 fields; the header has 8" in out
    assert "3 files: 21 records, 19 new versions landed, 1 quarantined, 1 duplicates" in out
    assert "hour-12.ndjson.gz is named .gz but is not gzip-compressed" in done.stderr
    assert "1 of 3 files could not be read: hour-12.ndjson.gz" in done.stderr
    assert "Traceback" not in done.stderr

    again = run(["ingest", "-t", "shop", "--json", str(hour), str(table)], workdir)
    assert again.returncode == 0, again.stderr
    report = orjson.loads(again.stdout)
    assert report["ok"] is True
    for f, (received, landed) in zip(report["files"], [(12, 12), (9, 7)], strict=True):
        assert f["already_ingested_at"] is not None and (f["received"], f["landed"]) == (0, 0)
        assert (f["earlier"]["received"], f["earlier"]["landed"]) == (received, landed)
    said = run(["ingest", "-t", "shop", str(table)], workdir)
    assert said.returncode == 0 and "hour-11.csv: already ingested on " in said.stdout
    assert said.stdout.rstrip().endswith("lands nothing")


def test_a_wrong_format_or_tenant_is_the_commands_error(workdir: Path) -> None:
    path = workdir / "x.ndjson"
    path.write_text(json.dumps(event(1)) + "\n")
    done = run(["ingest", "-t", "shop", "--format", "xml", str(path)], workdir)
    assert done.returncode == 2 and "unknown format 'xml'" in done.stderr
    done = run(["ingest", "-t", "nobody", str(path)], workdir)
    assert done.returncode == 3 and "no tenant named 'nobody'" in done.stderr
