"""The push API's documented shapes (for /openapi.json; the parsing itself is sources.push.events)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Customer(BaseModel):
    id: str | None = None
    email: str | None = None
    name: str | None = None
    document: str | None = Field(None, description="as sent (CPF, CNPJ, CUIT, DNI...); never refuses the event")
    document_type: str | None = Field(None, description="e.g. cpf, cnpj")
    phone: str | None = Field(None, description="as sent, e.g. +5511987654321")


class OrderEvent(BaseModel):
    """A full snapshot of an order as of event_time (not a delta). Other fields are kept as sent."""

    model_config = ConfigDict(extra="allow")

    order_id: str = Field(max_length=200)
    event_time: str = Field(description="ISO-8601 date and time with zone, e.g. 2026-12-01T10:15:00Z")
    status: str = Field(description="free text; VTEX's status names are recommended")
    total_value: str | float = Field(description='currency units (never cents): 129.9 or "129.90"')
    currency_code: str
    creation_date: str = Field(description="ISO-8601 date and time with zone")
    sales_channel: str | None = None
    customer: Customer | None = None


class ItemErrorOut(BaseModel):
    index: int = Field(description="the item's 0-based position in the batch")
    reason: str


class PushResult(BaseModel):
    received: int
    landed: int = Field(description="new versions landed")
    duplicates: int = Field(description="items whose identical version had already landed")
    quarantined: int = Field(description="bad items, kept in the quarantine with their reason")
    errors: list[ItemErrorOut] = Field(description="the first 100 bad items, each with its reason")
    errors_omitted: int = Field(0, description="bad items past the first 100, counted in quarantined")


class Problem(BaseModel):
    detail: str


class Health(BaseModel):
    status: str
    warehouse: str
    schema_version: int | None
    worker_alive: bool | None
