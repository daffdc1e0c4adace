"""Order status timelines: which workflow steps an order goes through after it is placed, and when.

A timeline is a short row of (offset after creation, status) steps. Rows are built for a whole day of
orders at once with numpy and stored as small integer arrays; nothing here holds one object per order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Every change to an order (status, value, lastChange) happens within this many hours of its creation.
# The sync engine re-reads a trailing window of creation dates and relies on this bound.
MAX_CHANGE_HOURS = 60
MAX_CHANGE_MS = MAX_CHANGE_HOURS * 3_600_000

MAX_STEPS = 12
NEVER = int(np.iinfo(np.int32).max)

STATUS_NAMES: tuple[str, ...] = (
    "order-created",
    "on-order-completed",
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
    "start-handling",
    "handling",
    "invoice",
    "invoiced",
    "request-cancel",
    "cancel",
    "canceled",
)
# statusDescription is localized by the store; these are the pt-BR texts VTEX shows.
STATUS_DESCRIPTIONS: tuple[str, ...] = (
    "Processando",
    "Processando",
    "Pagamento Pendente",
    "Pagamento Aprovado",
    "Carência para Cancelamento",
    "Pronto para o manuseio",
    "Iniciar Manuseio",
    "Preparando Entrega",
    "Verificando Fatura",
    "Faturado",
    "Cancelamento Solicitado",
    "Cancelando",
    "Cancelado",
)
STATUS_CODES: dict[str, int] = {name: code for code, name in enumerate(STATUS_NAMES)}

ORDER_CREATED = 0
ON_ORDER_COMPLETED = 1
PAYMENT_PENDING = 2
PAYMENT_APPROVED = 3
WINDOW_TO_CANCEL = 4
READY_FOR_HANDLING = 5
START_HANDLING = 6
HANDLING = 7
INVOICE = 8
INVOICED = 9
REQUEST_CANCEL = 10
CANCEL = 11
CANCELED = 12
_EDIT = -2  # placeholder slot code: an item edit keeps the status it happens in

PAY_CARD = 0
PAY_BOLETO = 1
PAY_PIX = 2

_HOUR = 3600.0
_LIMIT_S = MAX_CHANGE_MS / 1000.0
# Slot order is fixed; rows are sorted by time afterwards.
_SLOT_CODES = np.array([*range(13), _EDIT], dtype=np.int8)


@dataclass(frozen=True)
class Timelines:
    """Status timelines of a batch of orders."""

    offsets: NDArray[np.int32]  # (n, MAX_STEPS) ms after creation, ascending; NEVER when unused
    codes: NDArray[np.int8]  # (n, MAX_STEPS) status after each step; -1 when unused
    edit_step: NDArray[np.int8]  # column of the item-edit step, -1 when the order is never edited
    authorized: NDArray[np.int32]  # ms offset of payment-approved, NEVER if payment never approves
    invoiced: NDArray[np.int32]  # ms offset of invoiced, NEVER if never invoiced


def build_timelines(rng: np.random.Generator, pay_kind: NDArray[np.uint8], editable: NDArray[np.bool_]) -> Timelines:
    """Draw a timeline per order.

    Happy path: order-created → on-order-completed → payment-pending → payment-approved →
    window-to-cancel (≈30 min) → ready-for-handling → start-handling → handling → invoice → invoiced.
    Branches: failed payments are canceled hours later (bank slips after about two days), bank slips
    that are paid take one to three days, some paid orders are canceled late (request-cancel → cancel
    → canceled) and some have an item removed before invoicing. Steps that would fall after
    MAX_CHANGE_HOURS never happen: the order stays in the last status it reached.
    """
    n = int(pay_kind.shape[0])

    def u(lo: float | NDArray[np.float64], hi: float | NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(lo + rng.random(n) * (np.asarray(hi) - lo), dtype=np.float64)

    card = pay_kind == PAY_CARD
    pix = pay_kind == PAY_PIX
    completed = u(2, 25)
    pending = completed + u(1, 8)
    fail_p = np.where(card, 0.05, np.where(pix, 0.12, 0.30))
    failed = rng.random(n) < fail_p
    approved = pending + np.where(card, u(4, 600), np.where(pix, u(20, 1800), u(22 * _HOUR, 54 * _HOUR)))
    fail_cancel = pending + np.where(
        card, u(1 * _HOUR, 8 * _HOUR), np.where(pix, u(1 * _HOUR, 24 * _HOUR), u(46 * _HOUR, 57 * _HOUR))
    )
    window = approved + u(0.5, 3)
    ready = window + u(1790, 1830)
    start = ready + np.minimum(rng.exponential(1.5 * _HOUR, n), 12 * _HOUR) + 30
    handling = start + u(1, 10)
    invoice = handling + u(1 * _HOUR, 30 * _HOUR)
    invoiced = invoice + u(5, 300)

    # Late cancellations: any time after approval and before the invoice is issued.
    c_lo = approved + 60
    c_hi = np.minimum(invoice - 1, _LIMIT_S - 1200)
    late = ~failed & (rng.random(n) < 0.05) & (c_hi > c_lo)
    c_at = u(c_lo, np.maximum(c_hi, c_lo))
    c_cancel = c_at + u(5, 120)
    c_canceled = c_cancel + u(10, 600)

    # Item edits: orders can change until they start to be invoiced.
    e_lo = approved + 60
    e_hi = np.minimum(np.minimum(invoice, np.where(late, c_at, np.inf)) - 1, _LIMIT_S - 60)
    edited = ~failed & editable & (rng.random(n) < 0.06) & (e_hi > e_lo)
    e_at = u(e_lo, np.maximum(e_hi, e_lo))

    inf = np.inf
    slots = np.full((n, 14), inf)
    slots[:, 0] = 0.0
    slots[:, 1] = completed
    slots[:, 2] = pending
    main = np.stack([approved, window, ready, start, handling, invoice, invoiced], axis=1)
    main[failed] = inf
    cut = late[:, None] & (main >= np.where(late, c_at, inf)[:, None])
    main[cut] = inf
    slots[:, 3:10] = main
    slots[:, 10] = np.where(late, c_at, inf)
    slots[:, 11] = np.where(failed, fail_cancel, np.where(late, c_cancel, inf))
    slots[:, 12] = np.where(failed, fail_cancel + u(30, 900), np.where(late, c_canceled, inf))
    slots[:, 13] = np.where(edited, e_at, inf)
    slots[slots >= _LIMIT_S] = inf

    order = np.argsort(slots, axis=1, kind="stable")
    times = np.take_along_axis(slots, order, axis=1)
    codes = _SLOT_CODES[order]
    used = np.isfinite(times)
    if int(used.sum(axis=1).max(initial=0)) > MAX_STEPS:
        raise AssertionError("a timeline has more steps than MAX_STEPS")
    times = times[:, :MAX_STEPS]
    codes = codes[:, :MAX_STEPS].copy()
    used = used[:, :MAX_STEPS]
    offsets = np.where(used, np.round(np.where(used, times, 0.0) * 1000.0), NEVER).astype(np.int32)
    codes[~used] = -1

    edit_rows, edit_cols = np.nonzero(codes == _EDIT)
    codes[edit_rows, edit_cols] = codes[edit_rows, edit_cols - 1]
    edit_step = np.full(n, -1, dtype=np.int8)
    edit_step[edit_rows] = edit_cols.astype(np.int8)

    return Timelines(
        offsets=offsets,
        codes=codes,
        edit_step=edit_step,
        authorized=_step_offset(offsets, codes, PAYMENT_APPROVED),
        invoiced=_step_offset(offsets, codes, INVOICED),
    )


def _step_offset(offsets: NDArray[np.int32], codes: NDArray[np.int8], code: int) -> NDArray[np.int32]:
    hit = codes == code
    col = np.argmax(hit, axis=1)
    found = hit[np.arange(len(col)), col]
    picked = offsets[np.arange(len(col)), col]
    return np.where(found, picked, NEVER).astype(np.int32)
