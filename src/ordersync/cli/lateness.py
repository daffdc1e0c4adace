"""`ordersync lateness`: versions by how late they landed, per tenant and order date."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, WarehouseOpt
from ordersync.cli.output import console, print_below, print_json, print_table

#: Table headers of the buckets; each holds its upper bound (exactly 1 h late is "≤1h").
BUCKET_LABELS = {
    "upto_1h": "≤1h",
    "1h_6h": "1-6h",
    "6h_24h": "6-24h",
    "1d_3d": "1-3d",
    "3d_7d": "3-7d",
    "over_7d": ">7d",
}


@guarded
def lateness(
    tenant: SomeTenantOpt = None,
    days: Annotated[int, typer.Option(min=1, help="order dates to show, back from today in each tenant's zone")] = 30,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Versions by lateness (landed minus event time), the share after the lookback, and those over the budget;
    --json adds a breakdown per source."""

    with facade(warehouse, progress=False, read_only=True) as app:
        rows = app.lateness(tenant, days)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"nothing landed in the last {days} order dates", markup=False, highlight=False)
        return
    table: list[dict[str, Any]] = [
        {
            "tenant": r["tenant"],
            "date": r["date"],
            "versions": r["versions"],
            **{label: r["buckets"][key] for key, label in BUCKET_LABELS.items()},
            "after lookback %": round(100 * r["after_lookback_share"], 1),
            "over budget": r["over_budget"],
        }
        for r in rows
    ]
    first = rows[0]
    print_table(f"lateness, last {days} order dates", table, below=())
    console.print(
        f"after lookback: landed more than {first['lookback_days']:g} days after the event ([dbt] lookback_days); "
        f"over budget: more than {first['lateness_budget_days']:g} days ([sync] lateness_budget_days), "
        "landed and counted, never dropped",
        markup=False,
        highlight=False,
    )
    for r in rows:
        if r["clock_skew"]:
            print_below(
                f"{r['tenant']} {r['date']}",
                f"{r['clock_skew']} version{'' if r['clock_skew'] == 1 else 's'} with an event time after "
                "they landed (the source's clock ahead)",
            )
