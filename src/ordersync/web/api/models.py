"""The API's documented answers (for /openapi.json); the items are the CLI's `--json` items."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ListPage(BaseModel):
    data: list[dict[str, Any]] = Field(description="this page's items, shaped as the CLI's --json prints them")
    next: str | None = Field(description="the cursor of the next page (?cursor=), or null on the last page")


class PlanCheck(BaseModel):
    plan_id: str
    status: str
    holds: bool = Field(description="false when `plan apply` would refuse it as stale")
    detail: str | None = Field(description="why it no longer holds")


class SessionInfo(BaseModel):
    scope: str
    tenant_id: int | None
    label: str | None
    csrf: str | None = Field(description="send it as X-CSRF-Token (or form field csrf) with a session's actions")


class Document(BaseModel):
    """A JSON document (a tenant's status, a plan, a customer): its fields as the CLI prints them."""

    model_config = {"extra": "allow"}


class RunItem(BaseModel):
    """A sync run (`ordersync runs --json`): every column of cdp.sync_runs and the tenant's name."""

    run_id: str
    tenant_id: int
    tenant: str | None
    mode: str
    status: str
    started_at: str
    finished_at: str | None
    window_start: str | None
    window_end: str | None
    orders_listed: int
    orders_fetched: int
    versions_landed: int
    late_versions: int
    quarantined: int
    list_calls: int
    get_calls: int
    retries: int
    worker_id: str | None
    error: str | None
    wall_started_at: str | None
    wall_finished_at: str | None
    attempt: int | None
    discrepancies: int | None
    discrepancies_fixed: int | None
    throttled: int | None
    throttle_wait_seconds: float | None
    pace_wait_seconds: float | None
    lease_token: int | None


class RunsPage(ListPage):
    data: list[RunItem]  # type: ignore[assignment]


class BuildItem(BaseModel):
    """A build (`ordersync builds --json`)."""

    build_id: int
    command: str
    flags: str | None
    status: str
    started_at: str
    finished_at: str | None
    seconds: float | None
    worker_id: str | None
    trigger: str | None
    error: str | None
    failed_tenants: list[dict[str, Any]]


class BuildsPage(ListPage):
    data: list[BuildItem]  # type: ignore[assignment]


class QuarantineItem(BaseModel):
    """A quarantined record without its bytes (`ordersync quarantine list --json`)."""

    quarantine_id: int
    tenant_id: int
    tenant: str
    source: str
    run_id: str | None
    order_id: str | None
    reason: str
    quarantined_at: str
    retries: int | None
    last_error: str | None
    resolved_at: str | None
    resolved_run_id: str | None
    raw_encoding: str | None
    resolved: bool


class QuarantinePage(ListPage):
    data: list[QuarantineItem]  # type: ignore[assignment]


class PlanItem(BaseModel):
    """A plan's summary (`ordersync plan list --json`)."""

    plan_id: str
    kind: str
    status: str
    author: str | None
    created_at: str
    tenants: str
    from_: str | None = Field(alias="from")
    to: str | None
    versions_to_land: int
    rows_changed: int
    reviewed_by: str | None
    applied_at: str | None


class PlansPage(ListPage):
    data: list[PlanItem]  # type: ignore[assignment]


class RevenueItem(BaseModel):
    """One tenant, day and currency (`ordersync revenue --json` days); amounts as text to the cent."""

    tenant: str
    date: str
    currency: str
    orders: int
    valid_orders: int
    revenue: str
    pending_orders: int
    pending_value: str
    canceled_orders: int
    canceled_value: str
    average_order_value: str


class RevenuePage(ListPage):
    data: list[RevenueItem]  # type: ignore[assignment]
    as_of: str | None = Field(description="the instant these figures are as of (null: nothing known yet)")


class DiffPage(ListPage):
    since: str = Field(description="before: the moment the days are compared from")
    against: str = Field(
        description="after: the moment they are compared with (now, when not given: the next page keeps it)"
    )


class HeldSince(BaseModel):
    since: str
    error: str


class TenantStatus(BaseModel):
    """A tenant's status (`ordersync status --json`): its sync state, last run and build, counts."""

    tenant: str
    tenant_id: int
    enabled: bool
    state: str = Field(description="Current, Behind or Stale")
    platform: str
    change_capture: str | None
    last_landed_at: str | None
    sync_frequency_hours: int
    last_sync_at: str | None
    last_run_status: str | None
    last_run_mode: str | None
    last_run_error: str | None
    orders_today: int
    counted_at: str = Field(
        description="orders_today, orders_landed and late_versions_over_budget count every version committed before "
        "this moment (serve counts every few seconds)"
    )
    orders_landed: int
    orders_in_fct: int
    quarantined: int
    open_discrepancies: int
    late_versions_over_budget: int
    historical_progress: str
    initial_sync_completed: bool | None
    last_build_status: str | None
    last_build_at: str | None
    last_build_error: str | None
    last_build_failed_tenants: list[str | None]
    build_held: HeldSince | None


class TenantsPage(ListPage):
    data: list[TenantStatus]  # type: ignore[assignment]


class SourceDay(BaseModel):
    """One of a tenant's last complete days: as built beside the source as its runs' checks found it."""

    date: str
    built_orders: int = Field(description="the day's orders in fct_orders (each order's latest version built)")
    built_revenue: str = Field(description="their total value, exact, to the cent")
    source_orders: int | None = Field(description="the source's count when a check found the day different")
    source_revenue: str | None = Field(description="the source's total when a check found the day different")
    checked_at: str | None = Field(description="when the day's newest discrepancy was found")
    fixed_at: str | None = Field(description="when a later run closed it")
    gap: bool = Field(description="the day's newest discrepancy is still open (counted in open_discrepancies)")


class SourceDaysPage(ListPage):
    data: list[SourceDay]  # type: ignore[assignment]


class CustomerMove(BaseModel):
    """How many customers' segment (or journey stage) went from one value to another."""

    kind: str = Field(description="segment or stage")
    from_: str | None = Field(alias="from")
    to: str | None
    moves: int


class CustomerMovesPage(ListPage):
    data: list[CustomerMove]  # type: ignore[assignment]
    since: str | None = Field(description="moves on or after this day (null: since the first)")
