"""`ordersync ingest` (and its older name `ordersync land`): land batch files for a tenant."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, TenantOpt, WarehouseOpt
from ordersync.cli.output import err_console, print_json, say
from ordersync.sheets import inert

if TYPE_CHECKING:
    from ordersync.sources.files.ingest import FileResult

#: quarantine reasons printed per file (all of them: `ordersync quarantine list`)
SHOWN_REASONS = 5


@guarded
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="files of order events or VTEX order bodies: .ndjson / .jsonl, .json (an array), .csv, "
            ".parquet, each optionally gzipped (.gz)",
            show_default=False,
        ),
    ],
    tenant: TenantOpt,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="ndjson | json | csv | parquet, for every file (default: from each name)"),
    ] = None,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Land batch files of order events; bad rows are quarantined with file, line and reason.

    A file already ingested for the tenant (the same bytes) lands nothing. The exit code is
    non-zero only when a file could not be read at all; the other files still land."""

    def go() -> bool:
        with facade(warehouse, progress=not as_json) as app:
            results = app.ingest_files(tenant, files, fmt=fmt)
        if as_json:
            print_json({"files": [r.as_dict() for r in results], "ok": all(r.ok for r in results)})
        else:
            for r in results:
                _print(r, tenant)
            if len(results) > 1:
                _say(
                    f"{len(results)} files: {sum(r.received for r in results)} records, "
                    f"{sum(r.landed for r in results)} new versions landed, "
                    f"{sum(r.quarantined for r in results)} quarantined, "
                    f"{sum(r.duplicates for r in results)} duplicates"
                )
        failed = [r for r in results if not r.ok]
        if failed and not as_json:
            names = ", ".join(r.name for r in failed)
            say(f"{len(failed)} of {len(results)} files could not be read: {names}", out=err_console)
        return not failed

    if not go():
        raise typer.Exit(1)


def _print(r: FileResult, tenant: str) -> None:
    if r.error is not None:
        err_console.print(Text.assemble(("error: ", "red"), inert(r.error)), soft_wrap=True)
        if not r.received:
            return
    if r.already_ingested_at is not None:
        then = r.earlier or {}
        _say(
            f"{r.name}: already ingested on {r.already_ingested_at.isoformat(sep=' ', timespec='seconds')} "
            f"(sha256 {(r.sha256 or '')[:12]}: {then.get('received', 0)} records, {then.get('landed', 0)} "
            "new versions landed then); lands nothing"
        )
        return
    # "N records: X new versions landed, Q quarantined" is what `ordersync land` always printed
    _say(
        f"{r.name}: {r.received} records: {r.landed} new versions landed, {r.quarantined} quarantined, "
        f"{r.duplicates} duplicates"
    )
    for reason in r.reasons[:SHOWN_REASONS]:
        _say(f"  quarantined: {reason}")
    if r.quarantined > SHOWN_REASONS:
        _say(f"  ... and {r.quarantined - SHOWN_REASONS} more: ordersync quarantine list --tenant {tenant}")


def _say(text: str) -> None:
    # one line each, never wrapped, so the totals can be read by a script
    say(text, soft_wrap=True)
