"""The FastAPI app of `ordersync serve`: the push API, the VTEX Hook receiver, health, and the
JSON API of the dashboard's data (web/api, read on connections of its own).

A request reaches the warehouse only through the gate (web.gate): for its token and to write what
it brought. Gunzip, parsing and preparing the batch (its versions and quarantine rows) run in a
worker thread outside any warehouse lock, so one tenant's huge or hostile body never holds up
another tenant's request, nor the event loop. Health and hook secrets are answered from what
serve keeps in memory.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from ordersync.errors import BadEncodingError, BodyTooLargeError, UnreadableBodyError
from ordersync.land.intake import Item
from ordersync.secrets import digest, secret_matches
from ordersync.sources.push.bodies import json_items, ndjson_items
from ordersync.sources.push.receiver import MAX_IDEMPOTENCY_KEY, PushReceiver
from ordersync.sources.vtex.hook import SECRET_HEADER, Spool, is_ping, notification
from ordersync.web import api as json_api
from ordersync.web import pages
from ordersync.web.auth import bearer
from ordersync.web.bodies import gunzip_capped, read_capped
from ordersync.web.budget import Budget, retry_after
from ordersync.web.errors import answer_for, install, problem
from ordersync.web.gate import Gate, HookSecrets
from ordersync.web.metrics import PUSH_PATH, PushMeter
from ordersync.web.models import Health, OrderEvent, Problem, PushResult

_MIB = 1024 * 1024
_JSON_TYPES = {"application/json"}
_NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl"}


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
#: A token held past its budget gets its 429 after at most this long: a client retrying without
#: pause then costs serve a request a second, not thousands (their parsing takes the CPU the other
#: tenants' requests need).
HELD_ANSWER_SECONDS = 1.0


def decode(body: bytes, gzipped: bool, reader: Callable[[bytes], list[Item]], limit: int) -> tuple[bytes, list[Item]]:
    """(the body as sent before gzip, its items); run in a worker thread: a 10 MB body takes a while."""
    if gzipped:
        body = gunzip_capped(body, limit)
    return body, reader(body)


def create_app(
    gate: Gate,
    *,
    max_body_mb: float = 10.0,
    max_items_per_minute: int = 60_000,
    hook_secrets: HookSecrets | None = None,
    worker_alive: Callable[[], bool | None] = lambda: None,
    builder_alive: Callable[[], bool] = lambda: True,
    on_landed: Callable[[int], None] = lambda n: None,
    hook_spool: Spool | None = None,
    on_hook: Callable[[], None] = lambda: None,
) -> FastAPI:
    """The app; `on_landed` hears how many new versions each push landed (serve builds after them)."""
    api = FastAPI(
        title="ordersync",
        summary="Push order events into ordersync's warehouse; receive VTEX Hook notifications; read every "
        "tenant's sync, lateness, revenue as of a moment, plans and customers.",
        version="1",
    )
    install(api)
    api.add_middleware(PushMeter)
    limit = int(max_body_mb * _MIB)
    budget = Budget(max_items_per_minute)
    shares: dict[int, anyio.CapacityLimiter] = {}

    def share_of(tenant_id: int) -> anyio.CapacityLimiter:
        if tenant_id not in shares:
            shares[tenant_id] = anyio.CapacityLimiter(gate.tenant_share)
        return shares[tenant_id]

    secrets = hook_secrets or HookSecrets(gate)

    @api.get("/v1/health", response_model=Health, tags=["health"])
    async def health() -> dict[str, Any]:
        """Warehouse reachable (as serve last saw it), schema version, worker alive. Needs no token
        (probes carry none), shows no tenant's data, and answers at once, during a build too."""
        vitals = gate.vitals
        ok = vitals.reachable and builder_alive() and worker_alive() is not False
        return {
            "status": "ok" if ok else "degraded",
            "warehouse": "reachable" if vitals.reachable else "unreachable",
            "schema_version": vitals.schema_version,
            "worker_alive": worker_alive(),
        }

    @api.post(
        PUSH_PATH,
        response_model=PushResult,
        tags=["push"],
        responses={
            400: {"model": Problem, "description": "the body cannot be read at all; nothing landed"},
            401: {"model": Problem, "description": "no valid token (missing, unknown or revoked)"},
            403: {"model": Problem, "description": "the token belongs to another tenant"},
            409: {"model": Problem, "description": "Idempotency-Key already used with another body"},
            413: {"model": Problem, "description": "body over [serve] max_body_mb, before or after gzip"},
            415: {"model": Problem, "description": "not application/json or application/x-ndjson, or not gzip"},
            429: {"model": Problem, "description": "over the token's [serve] max_items_per_minute; see Retry-After"},
        },
        openapi_extra={
            "parameters": [
                {
                    "name": "Authorization",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Bearer <token> from `ordersync tokens create --tenant NAME`",
                },
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "a retry with the same key gets the first answer and lands nothing",
                },
                {
                    "name": "Content-Encoding",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "enum": ["gzip", "identity"]},
                },
            ],
            "requestBody": {
                "required": True,
                "description": "order events (full snapshots) or VTEX get-order bodies as they are",
                "content": {
                    "application/json": {"schema": {"type": "array", "items": OrderEvent.model_json_schema()}},
                    "application/x-ndjson": {"schema": {"type": "string", "description": "one item per line"}},
                },
            },
        },
    )
    async def push_orders(tenant: str, request: Request) -> Any:
        """Land a batch of order versions for `tenant` (its name). Bad items are quarantined with their
        reason while the rest land; `duplicates` counts items whose identical version had landed."""
        token = bearer(request.headers.get("authorization"))
        if token is None:
            return problem(401, "send Authorization: Bearer <token> (ordersync tokens create)", _UNAUTHORIZED)
        # a token past its budget is refused before the warehouse is asked about it: a flood of
        # refused requests then costs no lock and no connection (only a live token has a bucket)
        bucket = digest(token)
        wait = budget.waiting(bucket)
        if wait is not None:
            await anyio.sleep(min(wait, HELD_ANSWER_SECONDS))
            return _over_budget(budget.limit_of(bucket), max(0.0, wait - HELD_ANSWER_SECONDS))
        grant = await gate.request(lambda app: app.push_receiver().grant_for_token(token))
        if grant is None:
            return problem(401, "the token is unknown or revoked", _UNAUTHORIZED)
        owner, per_minute = grant.tenant, budget.limit(grant.max_items_per_minute)
        if not hmac.compare_digest(owner.tenant_name.encode(), tenant.encode()):
            return problem(403, "this token may not push to that tenant")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media in _JSON_TYPES:
            reader = json_items
        elif media in _NDJSON_TYPES:
            reader = ndjson_items
        else:
            return problem(415, "send Content-Type: application/json (an array) or application/x-ndjson")
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", ""):
            return problem(415, f"Content-Encoding {encoding[:40]!r} is not supported; send gzip or none")
        key = request.headers.get("idempotency-key")
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
            return problem(400, f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return problem(413, f"the body is over {max_body_mb:g} MB; send smaller batches")
        share = share_of(owner.tenant_id)  # the threads and connections this tenant may hold at once
        try:
            raw = await read_capped(request.stream(), limit)
            body, items = await anyio.to_thread.run_sync(decode, raw, encoding == "gzip", reader, limit, limiter=share)
        except BodyTooLargeError as exc:
            return answer_for(exc, f"the body is over {max_body_mb:g} MB (after decompression); send smaller batches")
        except (BadEncodingError, UnreadableBodyError) as exc:
            return answer_for(exc, str(exc))
        wait = budget.take(bucket, len(items), per_minute)
        if wait is not None:
            return _over_budget(per_minute, wait, len(items))
        prepared = await anyio.to_thread.run_sync(
            lambda: PushReceiver.prepare(owner, items, idempotency_key=key, request=body), limiter=share
        )
        answer = await gate.request(lambda app: app.push_receiver().commit(prepared), share)
        if answer.body.get("landed"):
            on_landed(int(answer.body["landed"]))
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        # rendered off the event loop, like everything else that grows with the batch
        content = await anyio.to_thread.run_sync(orjson.dumps, answer.body, limiter=share)
        return Response(content, status_code=answer.status, headers=headers, media_type="application/json")

    @api.post(
        "/v1/hooks/vtex/{tenant}",
        tags=["hook"],
        responses={401: {"model": Problem, "description": "wrong or missing secret header"}},
    )
    async def vtex_hook(tenant: str, request: Request) -> Any:
        """VTEX Hook notifications for `tenant`: answered 200 once recorded durably, then the order is
        fetched and landed. The configuration ping is answered 200 without the secret."""
        try:
            raw = await read_capped(request.stream(), _HOOK_LIMIT)
        except BodyTooLargeError as exc:
            return answer_for(exc, "a hook notification is a few hundred bytes; this body is over 1 MB")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if is_ping(body):
            return {"ok": True}
        known = await secrets.check(tenant)
        if known is None or not secret_matches(request.headers.get(SECRET_HEADER), known[1]):
            return problem(401, f"wrong or missing {SECRET_HEADER}; run ordersync hook setup for this tenant")
        if hook_spool is None:
            return problem(503, "this server keeps no hook spool")
        await anyio.to_thread.run_sync(hook_spool.append, notification(known[0], raw))
        on_hook()
        return {"ok": True}

    json_api.install(api, gate)
    pages.install(api, gate)
    return api


_HOOK_LIMIT = 1024 * 1024


def _over_budget(per_minute: int, wait: float, items: int | None = None) -> Response:
    batch = "the batch it last sent" if items is None else f"this batch of {items:,}"
    return problem(
        429,
        f"this token may send {per_minute:,} items a minute (its own budget, or [serve] max_items_per_minute; "
        f"ordersync tokens budget) and {batch} "
        "would pass it; nothing landed: retry after the seconds in Retry-After"
        + (", in smaller batches" if items is not None and items > per_minute else ""),
        {"Retry-After": retry_after(wait)},
    )
