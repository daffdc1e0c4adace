"""An order as it stands at an instant, read from its row of the columns."""

from __future__ import annotations

from dataclasses import dataclass

from ordersync.simulator import lifecycle as lc
from ordersync.simulator.catalog import Catalog


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order as it stands at an instant."""

    row: int
    key: int
    style: int
    step: int
    status: int
    edited: bool
    created_us: int
    last_change_us: int
    authorized_us: int | None
    ready_us: int | None
    invoiced_us: int | None
    cancel_us: int | None
    edit_us: int | None


def order_view(cat: Catalog, row: int, t_us: int) -> OrderView:
    cols = cat.cols
    created = int(cols.creation[row])
    elapsed_ms = min((t_us - created) // 1000, lc.NEVER - 1)  # unused steps hold NEVER
    offsets = cols.offsets[row].tolist()
    codes = cols.codes[row].tolist()
    edit_step = int(cols.edit_step[row])
    step = 0
    authorized = ready = invoiced = cancel = edit = None
    for j in range(lc.MAX_STEPS):
        off = offsets[j]
        if off > elapsed_ms:
            break
        step = j
        at = created + off * 1000
        code = codes[j]
        if j == edit_step:
            edit = at
        elif code == lc.PAYMENT_APPROVED:
            authorized = at
        elif code == lc.READY_FOR_HANDLING:
            ready = at
        elif code == lc.INVOICED:
            invoiced = at
        elif code in (lc.REQUEST_CANCEL, lc.CANCEL) and cancel is None:
            cancel = at
    return OrderView(
        row=row,
        key=int(cols.key[row]),
        style=int(cols.style[row]),
        step=step,
        status=codes[step],
        edited=edit is not None,
        created_us=created,
        last_change_us=created + offsets[step] * 1000,
        authorized_us=authorized,
        ready_us=ready,
        invoiced_us=invoiced,
        cancel_us=cancel,
        edit_us=edit,
    )
