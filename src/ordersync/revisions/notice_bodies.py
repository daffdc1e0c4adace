"""What a revision notice says: Slack-compatible JSON (text plus blocks) or plain JSON.

Both name the tenant, the day, the currency, revenue before and after, the delta, how many orders
caused it, the notice id (receivers dedupe on it; it is also the X-Ordersync-Notice-Id header) and
the command that lists those orders.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

FORMATS = ("slack", "json")
#: The header carrying the notice id, the same on every resend.
NOTICE_ID_HEADER = "X-Ordersync-Notice-Id"


@dataclass(frozen=True)
class Notice:
    """One row of the outbox (cdp.revision_notices), with its tenant's name."""

    notice_id: str
    tenant_id: int
    tenant: str
    order_date: date
    currency_code: str
    revenue_before: Decimal
    revenue_after: Decimal
    delta: Decimal
    orders_changed: int
    known_before: datetime | None
    known_after: datetime | None
    revised_at: datetime

    @property
    def delta_pct(self) -> float | None:
        if self.revenue_before == 0:
            return None
        return float(self.delta * 100 / abs(self.revenue_before))

    def command(self) -> str:
        """The command that lists the orders behind the revision (as known before and after it)."""
        tenant = shlex.quote(self.tenant)
        if self.known_before is None:
            day = self.order_date.isoformat()
            return f"ordersync revenue --tenant {tenant} --from {day} --to {day}"
        out = f"ordersync revenue diff --tenant {tenant} --as-of {_instant(self.known_before)}"
        if self.known_after is not None:
            out += f" --against {_instant(self.known_after)}"
        return out

    def public(self) -> dict[str, Any]:
        """The notice as plain JSON values (money as exact decimal strings)."""
        return {
            "notice_id": self.notice_id,
            "tenant": self.tenant,
            "tenant_id": self.tenant_id,
            "order_date": self.order_date.isoformat(),
            "currency_code": self.currency_code,
            "revenue_before": _money(self.revenue_before),
            "revenue_after": _money(self.revenue_after),
            "delta": _money(self.delta),
            "delta_pct": None if self.delta_pct is None else round(self.delta_pct, 2),
            "orders_changed": self.orders_changed,
            "known_before": None if self.known_before is None else _instant(self.known_before),
            "known_after": None if self.known_after is None else _instant(self.known_after),
            "revised_at": _instant(self.revised_at),
            "command": self.command(),
        }


def body(notice: Notice, fmt: str) -> dict[str, Any]:
    if fmt == "json":
        return {"type": "revenue_revision", **notice.public()}
    if fmt == "slack":
        return slack_body(notice)
    raise ValueError(f"unknown notice format {fmt!r}; use one of {', '.join(FORMATS)}")


def summary_line(n: Notice) -> str:
    """One line: who, which day, before -> after, delta, how many orders."""
    orders = f"{n.orders_changed} order{'' if n.orders_changed == 1 else 's'} changed"
    pct = "" if n.delta_pct is None else f", {n.delta_pct:+.1f}%"
    return (
        f"Revenue revised for {n.tenant} on {n.order_date.isoformat()} ({n.currency_code}): "
        f"{_shown(n.revenue_before)} → {_shown(n.revenue_after)} ({_shown(n.delta, sign=True)}{pct}), {orders}"
    )


def slack_body(n: Notice) -> dict[str, Any]:
    """Slack's incoming-webhook message: `text` (notifications, clients without blocks) and `blocks`."""
    command = n.command()
    fields = [
        ("Tenant", _escape(n.tenant)),
        ("Day", n.order_date.isoformat()),
        ("Before", f"{_shown(n.revenue_before)} {_escape(n.currency_code)}"),
        ("After", f"{_shown(n.revenue_after)} {_escape(n.currency_code)}"),
        ("Delta", f"{_shown(n.delta, sign=True)} {_escape(n.currency_code)}"),
        ("Orders changed", str(n.orders_changed)),
    ]
    return {
        "text": f"{_escape(summary_line(n))}. Orders: {_escape(command)} (notice {n.notice_id})",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"Revenue revised: {n.tenant} {n.order_date.isoformat()}"[:150]},
            },
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"The orders behind it:\n```{_escape(command)}```"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"notice {n.notice_id}"}]},
        ],
    }


def _escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup (links, mentions); everything else is literal
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _shown(value: Decimal, sign: bool = False) -> str:
    return f"{Decimal(value):+,.2f}" if sign else f"{Decimal(value):,.2f}"


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
