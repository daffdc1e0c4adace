"""Order bodies as VTEX writes them: get-order JSON, list items and truth rows, from the columns.

Everything an order shows is a pure function of its row and the instant it is looked at, so the list
(at the lagged instant) and get-order (at now) agree whenever they look at the same instant.
"""

from __future__ import annotations

from typing import Any

from ordersync.simulator import lifecycle as lc
from ordersync.simulator.catalog import AFFILIATES, PAYMENT_SYSTEMS, Catalog, edited_discount
from ordersync.simulator.fragments import (
    COMPANIES,
    benefits,
    cancel_reason,
    cancellation,
    changes,
    customer_json,
    invoice_number,
    marketing,
    packages,
    payment,
)
from ordersync.simulator.people import customer, order_hex
from ordersync.simulator.population import order_identifiers
from ordersync.simulator.templates import (
    CLIENT_PROFILE,
    ITEM,
    ITEM_METADATA,
    LOGISTICS,
    ORDER,
    js,
)
from ordersync.simulator.timefmt import (
    DAY_US,
    F_AUTHORIZED,
    F_CREATION,
    F_INVOICED,
    F_LAST_CHANGE,
    F_OTHER,
    format_us,
)
from ordersync.simulator.view import OrderView

_MESSAGES = (
    "Recebemos seu pedido.",
    "Seu pagamento foi aprovado.",
    "Sua Nota Fiscal foi emitida.",
    "Seu pedido foi cancelado.",
)
_NULL = "null"
# Dates, digits, hex ids and order ids need no JSON escaping, so render() quotes them directly.
_STATUS_JS = tuple(js(s) for s in lc.STATUS_NAMES)
_DESCRIPTION_JS = tuple(js(s) for s in lc.STATUS_DESCRIPTIONS)
_TRUE = "true"
_FALSE = "false"


def _date(us: int | None, style: int, field: int) -> str:
    return _NULL if us is None else f'"{format_us(us, style, field)}"'


class OrderRenderer:
    """Renders one account's orders."""

    def __init__(self, cat: Catalog) -> None:
        self.cat = cat
        self.account = cat.name
        self.store_name = cat.name.replace("-", " ").replace("_", " ").title()
        self._store = {
            "hostname": js(cat.name),
            "storeName": js(self.store_name),
            "servicesEndpoint": js(f"http://oms.vtexinternal.com.br/api/oms?an={cat.name}"),
            "fulfillmentEndpoint": js(f"http://fulfillment.vtexcommerce.com.br/api/fulfillment?an={cat.name}"),
        }
        self._product_values: list[dict[str, str]] = []
        for p in cat.products.products:
            self._product_values.append(
                {
                    "skuId": js(p.sku_id),
                    "productId": js(p.product_id),
                    "ean": js(p.ean),
                    "name": js(p.name),
                    "refId": js(p.ref_id),
                    "listPrice": str(p.list_price),
                    "price": str(p.price),
                    "costPrice": str(p.price * 55 // 100),
                    "imageUrl": js(f"https://{cat.name}.vteximg.com.br/arquivos/ids/{155000 + int(p.sku_id)}-500-500"),
                    "detailUrl": js(f"/{p.slug}/p"),
                    "brandName": js(p.brand),
                    "brandId": js(p.brand_id),
                    "categoriesIds": js(f"/{p.category_id}/"),
                    "categories": js([{"id": p.category_id, "name": p.category_name}]),
                }
            )

    # shared pieces ------------------------------------------------------------------------------

    def order_id(self, view: OrderView) -> str:
        return self.cat.order_id(view.row)

    def _lines(self, view: OrderView) -> list[tuple[int, int]]:
        """(product number, quantity) of each item line as it stands."""
        cols = self.cat.cols
        products = cols.products[view.row].tolist()
        qty = cols.qty[view.row].tolist()
        if view.edited:
            qty[int(cols.edit_line[view.row])] -= 1
        return [(p, q) for p, q in zip(products, qty, strict=True) if q > 0]

    def _money(self, view: OrderView, lines: list[tuple[int, int]]) -> tuple[int, int, int, int]:
        """(items, discount, shipping, value) in cents."""
        cols = self.cat.cols
        prices = self.cat.products.prices
        items = sum(int(prices[p]) * q for p, q in lines)
        discount = int(cols.discount[view.row])
        if view.edited:
            products = cols.products[view.row].tolist()
            before = sum(int(prices[p]) * q for p, q in zip(products, cols.qty[view.row].tolist(), strict=True))
            discount = int(edited_discount(discount, before, items))
        shipping = int(cols.shipping[view.row])
        return items, discount, shipping, items - discount + shipping

    def value(self, view: OrderView) -> int:
        cols = self.cat.cols
        return int(cols.value1[view.row] if view.edited else cols.value0[view.row])

    def _customer_first(self, view: OrderView) -> str:
        return customer(self.cat.salt, int(self.cat.cols.customer[view.row])).first_name

    def _message(self, view: OrderView, order_id: str) -> str:
        status = view.status
        if status >= lc.REQUEST_CANCEL:
            msg = _MESSAGES[3]
        elif status >= lc.INVOICE:
            msg = _MESSAGES[2]
        elif status >= lc.PAYMENT_APPROVED:
            msg = _MESSAGES[1]
        else:
            msg = _MESSAGES[0]
        text = f" {self.store_name} {msg} Referente ao Pedido #{order_id} Olá, {self._customer_first(view)}."
        return text[:130]

    def _shipping_days(self, view: OrderView) -> int:
        return 2 + view.key % 8

    # list ---------------------------------------------------------------------------------------

    def list_item(self, view: OrderView) -> dict[str, Any]:
        cat = self.cat
        cols = cat.cols
        row = view.row
        style = view.style
        order_id = cat.order_id(row)
        aff = int(cols.affiliate[row])
        cust = customer(cat.salt, int(cols.customer[row]))
        pay = PAYMENT_SYSTEMS[int(cols.payment[row])]
        items = int(cols.qty[row].sum()) - (1 if view.edited else 0)
        invoiced = view.invoiced_us is not None
        authorized = None if view.authorized_us is None else format_us(view.authorized_us, style, F_AUTHORIZED)
        return {
            "orderId": order_id,
            "creationDate": format_us(view.created_us, style, F_CREATION),
            "clientName": cust.full_name,
            "items": None,
            "totalValue": self.value(view),
            "paymentNames": pay[1],
            "status": lc.STATUS_NAMES[view.status],
            "statusDescription": lc.STATUS_DESCRIPTIONS[view.status],
            "marketPlaceOrderId": f"{AFFILIATES[aff]}{view.key % 10**11:011d}" if aff else None,
            "sequence": cat.sequence(row),
            "salesChannel": "2" if aff else "1",
            "affiliateId": AFFILIATES[aff],
            "origin": "Fulfillment" if aff else "Marketplace",
            "workflowInErrorState": False,
            "workflowInRetry": False,
            "lastMessageUnread": self._message(view, order_id),
            "ShippingEstimatedDate": format_us(view.created_us + self._shipping_days(view) * DAY_US, style, F_OTHER),
            "ShippingEstimatedDateMax": None,
            "ShippingEstimatedDateMin": None,
            "orderIsComplete": view.status != lc.ORDER_CREATED,
            "listId": None,
            "listType": None,
            "authorizedDate": authorized,
            "callCenterOperatorName": None,
            "totalItems": items,
            "currencyCode": "BRL",
            "hostname": cat.name,
            "invoiceOutput": [invoice_number(view)] if invoiced else None,
            "invoiceInput": None,
            "lastChange": format_us(view.last_change_us, style, F_LAST_CHANGE),
            "isAllDelivered": False,
            "isAnyDelivered": False,
            "giftCardProviders": None,
            "orderFormId": order_hex(cat.salt, view.key)[:32],
            "paymentApprovedDate": authorized,
            "readyForHandlingDate": None if view.ready_us is None else format_us(view.ready_us, style, F_OTHER),
            "deliveryDates": None,
        }

    def truth_item(self, view: OrderView) -> dict[str, Any]:
        return {
            "orderId": self.cat.order_id(view.row),
            "status": lc.STATUS_NAMES[view.status],
            "value": self.value(view),
            "creationDate": format_us(view.created_us, view.style, F_CREATION),
            "lastChange": format_us(view.last_change_us, view.style, F_LAST_CHANGE),
        }

    # get-order ----------------------------------------------------------------------------------

    def render(self, view: OrderView) -> bytes:
        """The get-order body of an order as it stands in `view`."""
        cat = self.cat
        cols = cat.cols
        row = view.row
        style = view.style
        key = view.key
        hx = order_hex(cat.salt, key)
        h = int(hx[:16], 16)
        order_id = cat.order_id(row)
        aff = int(cols.affiliate[row])
        address, profile = customer_json(cat.salt, int(cols.customer[row]))
        lines = self._lines(view)
        items_total, discount, shipping, value = self._money(view, lines)
        company = COMPANIES[h % len(COMPANIES)]
        company_js = js(company)
        days = self._shipping_days(view)
        estimate_date = f'"{format_us(view.created_us + days * DAY_US, style, F_OTHER)}"'
        lock_id = f'"00-{order_id}"'
        address_id = profile["addressId"]
        hostname = self._store["hostname"]

        item_parts: list[str] = []
        meta_parts: list[str] = []
        logistics_parts: list[str] = []
        package_items: list[dict[str, Any]] = []
        share, first_extra = divmod(shipping, len(lines))
        valid_until = f'"{format_us(view.created_us + 7 * DAY_US, style, F_OTHER)}"'
        for index, (product, qty) in enumerate(lines):
            pv = self._product_values[product]
            price = int(cat.products.prices[product])
            values = dict(pv)
            values["uniqueId"] = '"' + (hx[index * 16 :] + hx)[:32].upper() + '"'
            values["lockId"] = lock_id
            values["quantity"] = str(qty)
            values["lineTotal"] = str(price * qty)
            values["priceValidUntil"] = valid_until
            item_parts.append(ITEM.render(values))
            meta_parts.append(ITEM_METADATA.render(pv))
            express = (h >> (index + 3)) & 3 == 0
            logistics_parts.append(
                LOGISTICS.render(
                    {
                        "itemIndex": str(index),
                        "selectedSla": '"Expressa"' if express else '"Normal"',
                        "slaPrice": str(share + (first_extra if index == 0 else 0)),
                        "deliveryCompany": company_js,
                        "shippingEstimate": f'"{days}bd"',
                        "shippingEstimateDate": estimate_date,
                        "courierId": f'"{1 + h % 9}a{company[:3].lower()}"',
                        "quantity": str(qty),
                        "hostname": hostname,
                        "addressId": address_id,
                        "transitTime": f'"{max(days - 1, 1)}d"',
                    }
                )
            )
            package_items.append(
                {
                    "itemIndex": index,
                    "quantity": qty,
                    "price": price,
                    "description": self._product_values[product]["name"],
                }
            )

        totals = [
            {"id": "Items", "name": "Total dos Itens", "value": items_total},
            {"id": "Discounts", "name": "Total dos Descontos", "value": -discount},
            {"id": "Shipping", "name": "Total do Frete", "value": shipping},
            {"id": "Tax", "name": "Total da Taxa", "value": 0},
        ]
        status = view.status
        reason = cancel_reason(cat, view, h)
        bits = int(cols.ident[row])
        if bits:  # the order carries only part of its person's identifiers, or writes them differently
            ids = order_identifiers(customer(cat.salt, int(cols.customer[row])), bits, hx)
            profile = dict(profile)
            profile["email"] = js(ids.email)
            # VTEX's schema has these as strings: a missing one is written empty.
            profile["userProfileId"] = js(ids.platform_id or "")
            profile["document"] = js(ids.document or "")
            profile["phone"] = js(ids.phone or "")
        values = dict(self._store)
        values.update(
            orderId=f'"{order_id}"',
            sequence=f'"{cat.sequence(row)}"',
            marketplaceOrderId=js(f"{AFFILIATES[aff]}{key % 10**11:011d}" if aff else ""),
            sellerOrderId=f'"00-{order_id}"',
            origin='"Fulfillment"' if aff else '"Marketplace"',
            affiliateId=js(AFFILIATES[aff]),
            salesChannel='"2"' if aff else '"1"',
            status=_STATUS_JS[status],
            statusDescription=_DESCRIPTION_JS[status],
            value=str(value),
            creationDate=f'"{format_us(view.created_us, style, F_CREATION)}"',
            lastChange=f'"{format_us(view.last_change_us, style, F_LAST_CHANGE)}"',
            orderGroup=f'"{cat.order_group(row)}"',
            followUpEmail=f'"{hx[32:64]}@ct.vtex.com.br"',
            isCompleted=_FALSE if status == lc.ORDER_CREATED else _TRUE,
            orderFormId=f'"{hx[:32]}"',
            allowCancellation=_TRUE if status < lc.INVOICE else _FALSE,
            authorizedDate=_date(view.authorized_us, style, F_AUTHORIZED),
            invoicedDate=_date(view.invoiced_us, style, F_INVOICED),
            cancelReason=_NULL if reason is None else js(reason),
            totals=js(totals),
            optinNewsLetter=_TRUE if h & 1 else _FALSE,
            cancellationData=cancellation(view, reason),
            itemMetadata="[" + ",".join(meta_parts) + "]",
            changesAttachment=changes(cat, view, order_id, h),
            packages=packages(cat.name, view, package_items, value, company, h),
            transactionId=f'"{hx[64:96].upper()}"',
            payment=payment(cat, view, value, h, hx),
            address=address,
            logisticsInfo="[" + ",".join(logistics_parts) + "]",
            benefits=benefits(discount, h, hx),
            marketingData=marketing(view, discount, h),
            clientProfileData=CLIENT_PROFILE.render(profile),
            items="[" + ",".join(item_parts) + "]",
        )
        return ORDER.render(values).encode()
