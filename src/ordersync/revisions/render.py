"""A plan as Markdown, for review."""

from __future__ import annotations

from typing import Any

from ordersync.revisions.plans import Plan


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _revenue(figures: dict[str, str]) -> str:
    return ", ".join(f"{cur} {value}" for cur, value in sorted(figures.items())) or "-"


def markdown(plan: Plan) -> str:
    body = plan.body
    totals = body.get("totals", {})
    lines = [
        f"# Plan {plan.plan_id}: {plan.kind} of {', '.join(plan.scope.get('tenants', []))}, "
        f"{plan.scope.get('from')} to {plan.scope.get('to')}",
        "",
        f"- status: **{plan.status}**" + (f" by {plan.reviewed_by}" if plan.reviewed_by else ""),
        f"- drafted by {plan.author or '(no author)'} at {body.get('drafted_at')} "
        f"({body.get('environment')}); document SHA-256 {plan.body_hash[:16]}",
        f"- versions to land: {totals.get('versions_to_land', 0)}; fct_orders rows inserted: "
        f"{totals.get('rows_inserted', 0)}, updated: {totals.get('rows_updated', 0)}; days whose revenue "
        f"changes: {totals.get('days_revised', 0)} of {totals.get('days', 0)}",
        "- applying lands exactly these versions, re-merges these days into fct_orders through the version "
        "guard (nothing newer is ever reverted) and recomputes their revenue; nothing is rebuilt from scratch",
    ]
    if plan.applied_at:
        lines.append(
            f"- applied at {plan.applied_at.isoformat()}" + (f" by {plan.applied_by}" if plan.applied_by else "")
        )
    for note in body.get("notes", []):
        lines.append(f"- note: {_cell(note)}")
    lines += [
        "",
        "| tenant | day | source orders | source total | warehouse orders | warehouse total | versions to land "
        "| rows inserted | rows updated | revenue before | revenue after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for d in body.get("days", []):
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    d["tenant"],
                    d["day"],
                    d["source_orders"],
                    d["source_total"],
                    d["warehouse_orders"],
                    d["warehouse_total"],
                    d["versions_to_land"],
                    d["rows_inserted"],
                    d["rows_updated"],
                    _revenue(d["revenue_before"]),
                    _revenue(d["revenue_after"]),
                )
            )
            + " |"
        )
    changes = body.get("orders", [])
    if changes:
        lines += [
            "",
            f"## Orders that change ({len(changes)})",
            "",
            "| order | change | before | after |",
            "|---|---|---|---|",
        ]
        for c in changes[:200]:
            before = c["before"]
            after = c["after"]
            lines.append(
                f"| {_cell(c['order_id'])} | {c['change']} | "
                + (_cell(f"{before['status']} {before['total_value']} ({before['order_date']})") if before else "-")
                + f" | {_cell(after['status'])} {_cell(after['total_value'])} ({after['order_date']}) |"
            )
        if len(changes) > 200:
            lines.append(f"| ... {len(changes) - 200} more (see --format json) | | | |")
    return "\n".join(lines) + "\n"
