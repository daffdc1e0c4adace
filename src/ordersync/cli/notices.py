"""`ordersync notices`: the revision notices of closed days and their delivery to the webhooks."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, SomeTenantOpt, WarehouseOpt
from ordersync.cli.output import console, print_below, print_json, print_table, short_time
from ordersync.notify.webhooks import DeliverySummary
from ordersync.outcomes import DeliveryState

app = typer.Typer(
    help="Revision notices: sent to the webhooks of [revisions] webhook_url_envs when a closed day's revenue moves.",
    no_args_is_help=True,
)

#: Characters of a notice id shown in the table (receivers see it whole; so does --json).
SHORT_ID = 12


def _deliveries(notice: dict[str, Any]) -> str:
    parts = []
    for d in notice["deliveries"]:
        tries = f"{d['attempts']} attempt{'' if d['attempts'] == 1 else 's'}"
        if d["state"] == DeliveryState.DELIVERED:
            parts.append(f"{d['webhook']}: delivered {short_time(d['delivered_at'])} ({tries})")
        elif d["state"] == DeliveryState.RETRYING:
            parts.append(f"{d['webhook']}: retrying ({tries}, next {short_time(d['next_attempt_at'])})")
        elif d["state"] == DeliveryState.GIVEN_UP:
            parts.append(f"{d['webhook']}: GIVEN UP {short_time(d['given_up_at'])} ({tries})")
        else:
            parts.append(f"{d['webhook']}: waiting")
    return "; ".join(parts) or "no webhook configured"


@app.command("list")
@guarded
def list_(
    tenant: SomeTenantOpt = None,
    undelivered: Annotated[
        bool, typer.Option("--undelivered", help="only notices some webhook has not received")
    ] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Each notice (newest first) and its delivery state per webhook (webhooks by variable name, never the URL)."""

    with facade(warehouse, progress=False, read_only=True) as app_:
        rows = app_.list_notices(tenant, undelivered_only=undelivered)
    if as_json:
        print_json(rows)
        return
    table = [
        {
            "notice": r["notice_id"][:SHORT_ID],
            "tenant": r["tenant"],
            "day": r["order_date"],
            "currency": r["currency_code"],
            "before": Decimal(r["revenue_before"]),
            "after": Decimal(r["revenue_after"]),
            "delta": Decimal(r["delta"]),
            "orders": r["orders_changed"],
            "revised": short_time(r["revised_at"]),
            "delivery": _deliveries(r),
        }
        for r in rows
    ]
    print_table("revision notices", table, below=("delivery",))
    console.print(f"notice ids shortened to {SHORT_ID} characters; --json shows them whole", style="dim")
    for r in rows:
        for d in r["deliveries"]:
            if d["last_error"] and d["state"] != "delivered":
                print_below(f"{r['notice_id'][:SHORT_ID]} {d['webhook']}", f"last error: {d['last_error']}")


@app.command("send")
@guarded
def send(
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Deliver every revision notice due now, and the customers' change events when `[customers]
    webhook_url_envs` names webhooks. Exits 1 when a webhook was skipped (its variable not set) or
    an attempt failed (it is retried with back-off)."""

    def go() -> bool:
        with facade(warehouse, progress=False) as app_:
            summary = app_.deliver_notices()
            events = app_.deliver_customer_events() if app_.settings.customers.webhook_url_envs else None
        if as_json:
            print_json({**summary.as_dict(), **({"customer_events": events.as_dict()} if events else {})})
            return summary.ok and (events is None or events.ok)
        notices_ok = _shown(summary, "revision notices sent")
        return (events is None or _shown(events, "customer event batches sent")) and notices_ok

    def _shown(summary: DeliverySummary, title: str) -> bool:
        if summary.busy:
            console.print(f"another process is delivering {summary.what}; nothing sent", markup=False)
            return True
        if not summary.webhooks:
            console.print(
                "no webhook configured ([revisions] webhook_url_envs is empty): the notices wait in the outbox",
                markup=False,
                highlight=False,
            )
            return True
        rows = [
            {
                "webhook": w.webhook,
                "format": w.format,
                "delivered": w.delivered,
                "failed": w.failed,
                "given up": w.given_up,
                "waiting": w.waiting,
                "note": w.skipped or w.last_error,
            }
            for w in summary.webhooks
        ]
        print_table(title, rows, below=("note",))
        return summary.ok

    if not go():
        raise typer.Exit(1)
