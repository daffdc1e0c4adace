"""The API's documented answers (for /openapi.json); the items are the CLI's `--json` items."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ListPage(BaseModel):
    data: list[dict[str, Any]] = Field(description="this page's items, shaped as the CLI's --json prints them")
    next: str | None = Field(description="the cursor of the next page (?cursor=), or null on the last page")


class RevenuePage(ListPage):
    as_of: str | None = Field(description="the instant these figures are as of (null: nothing known yet)")


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
