"""Get-order sub-objects that vary by order: payment, invoice package, changes, cancellation, marketing."""

from __future__ import annotations

import functools
from typing import Any

from ordersync.simulator import lifecycle as lc
from ordersync.simulator.catalog import PAYMENT_SYSTEMS, Catalog
from ordersync.simulator.people import customer, mix, uuid_from_hex, uuid_like
from ordersync.simulator.templates import ADDRESS, PACKAGE, PAYMENT, js
from ordersync.simulator.timefmt import DAY_US, F_OTHER, format_us
from ordersync.simulator.view import OrderView

COMPANIES = ("Correios", "Jadlog", "Loggi", "Total Express")
_CANCEL_REASONS = (
    "Cliente desistiu da compra",
    "Produto sem estoque",
    "Endereço de entrega incorreto",
    "Prazo de entrega muito longo",
)
_CHANGE_REASONS = ("Item indisponível no estoque", "Cliente pediu para remover um item")
_UTM = (
    ("google", "cpc", "search-brand"),
    ("facebook", "social", "remarketing"),
    ("instagram", "social", "lancamento"),
    ("newsletter", "email", "semanal"),
    ("tiktok", "social", "creators"),
    ("afiliados", "affiliate", "cashback"),
)
_NULL = "null"


@functools.lru_cache(maxsize=32_768)
def customer_json(salt: int, number: int) -> tuple[str, dict[str, str]]:
    """A customer's shipping address and profile as JSON fragments; customers order repeatedly."""
    cust = customer(salt, number)
    address = ADDRESS.render(
        {
            "receiverName": js(cust.full_name),
            "addressId": js(cust.address_id),
            "postalCode": js(cust.postal_code),
            "city": js(cust.city),
            "state": js(cust.state),
            "street": js(cust.street),
            "number": js(cust.street_number),
            "neighborhood": js(cust.neighborhood),
            "complement": js(cust.complement or ""),
            "geoCoordinates": js([cust.longitude, cust.latitude]),
        }
    )
    profile = {
        "email": js(cust.email),
        "firstName": js(cust.first_name),
        "lastName": js(cust.last_name),
        "document": js(cust.document),
        "phone": js(cust.phone),
        "userProfileId": js(cust.user_profile_id),
        "addressId": js(cust.address_id),
    }
    return address, profile


def invoice_number(view: OrderView) -> str:
    return str(100_000 + view.key % 900_000)


def cancel_reason(cat: Catalog, view: OrderView, h: int) -> str | None:
    if view.cancel_us is None:
        return None
    if view.authorized_us is None:
        kind = PAYMENT_SYSTEMS[int(cat.cols.payment[view.row])][3]
        return "Boleto não pago no vencimento" if kind == lc.PAY_BOLETO else "Pagamento não aprovado"
    return _CANCEL_REASONS[(h >> 8) % len(_CANCEL_REASONS)]


def cancellation(view: OrderView, reason: str | None) -> str:
    if view.cancel_us is None or reason is None:
        return _NULL
    by_user = view.authorized_us is not None
    return js(
        {
            "RequestedByUser": by_user,
            "RequestedBySystem": False,
            "RequestedBySellerNotification": False,
            "RequestedByPaymentNotification": not by_user,
            "Reason": reason,
            "CancellationDate": format_us(view.cancel_us, view.style, F_OTHER),
        }
    )


def changes(cat: Catalog, view: OrderView, order_id: str, h: int) -> str:
    if view.edit_us is None:
        return _NULL
    cols = cat.cols
    line = int(cols.edit_line[view.row])
    product = int(cols.products[view.row, line])
    p = cat.products.products[product]
    return js(
        {
            "id": "changeAttachment",
            "changesData": [
                {
                    "reason": _CHANGE_REASONS[(h >> 12) % len(_CHANGE_REASONS)],
                    "discountValue": p.price,
                    "incrementValue": 0,
                    "itemsAdded": [],
                    "itemsRemoved": [
                        {
                            "id": p.sku_id,
                            "name": p.name,
                            "quantity": 1,
                            "price": p.price,
                            "unitMultiplier": None,
                        }
                    ],
                    "receipt": {
                        "date": format_us(view.edit_us, view.style, F_OTHER),
                        "orderId": order_id,
                        "receipt": uuid_like(h, 0xCE),
                    },
                }
            ],
        }
    )


def packages(account: str, view: OrderView, items: list[dict[str, Any]], value: int, company: str, h: int) -> str:
    if view.invoiced_us is None:
        return "[]"
    number = invoice_number(view)
    tracking = f"BR{h % 10**9:09d}{company[:2].upper()}"
    for item in items:
        item["unitMultiplier"] = 1.0
    return (
        "["
        + PACKAGE.render(
            {
                "packageItems": js(items),
                "deliveryCompany": js(company),
                "invoiceNumber": js(number),
                "value": str(value),
                "invoiceUrl": js(f"https://nfe.{account}.example.com/{number}.pdf"),
                "issuanceDate": js(format_us(view.invoiced_us, view.style, F_OTHER)),
                "trackingNumber": js(tracking),
                "invoiceKey": js(f"3524{h % 10**18:018d}{view.key % 10**18:018d}55"[:44].ljust(44, "0")),
                "trackingUrl": js(f"https://tracking.example.com/{company.split()[0].lower()}/{tracking}"),
            }
        )
        + "]"
    )


def payment(cat: Catalog, view: OrderView, value: int, h: int, hx: str) -> str:
    system_id, name, group, kind, _ = PAYMENT_SYSTEMS[int(cat.cols.payment[view.row])]
    approved = view.authorized_us is not None
    tid = str(10_000_000 + h % 90_000_000)
    values = {
        "paymentId": f'"{hx[96:128].upper()}"',
        "paymentSystem": js(system_id),
        "paymentSystemName": js(name),
        "value": str(value),
        "paymentGroup": js(group),
        "tid": f'"{tid}"',
        "returnCode": '"0"' if approved else '"51"',
        "returnMessage": '"Transação aprovada"' if approved else '"Aguardando pagamento"',
        "authId": f'"{h % 1_000_000}"' if approved else '""',
        "accountId": js(customer(cat.salt, int(cat.cols.customer[view.row])).account_id),
        "installments": "1",
        "firstDigits": _NULL,
        "lastDigits": _NULL,
        "expireMonth": _NULL,
        "expireYear": _NULL,
        "paymentUrl": _NULL,
        "dueDate": _NULL,
        "boletoNumber": _NULL,
        "boletoFormatted": _NULL,
        "boletoBarCode": _NULL,
        "boletoBarCodeType": _NULL,
    }
    if kind == lc.PAY_CARD:
        values["installments"] = str(1 + (h >> 4) % min(10, 1 + value // 5000))
        values["firstDigits"] = js(("4", "5", "6", "3")[int(cat.cols.payment[view.row]) % 4] + f"{h % 10**5:05d}")
        values["lastDigits"] = js(f"{(h >> 17) % 10**4:04d}")
        values["expireMonth"] = js(f"{1 + (h >> 30) % 12:02d}")
        values["expireYear"] = js(str(2027 + (h >> 34) % 5))
    elif kind == lc.PAY_BOLETO:
        digits = f"{h:020d}{view.key:015d}{mix(h, 1):020d}"
        values["paymentUrl"] = js(
            f"https://{cat.name}.vtexpayments.com.br/BankIssuedInvoice/Transaction/{tid}/Payment/1/Installment/1"
        )
        values["dueDate"] = js(format_us(view.created_us + 3 * DAY_US, view.style, F_OTHER)[:10])
        values["boletoNumber"] = js(digits[:47])
        values["boletoFormatted"] = js(f"{digits[:5]}.{digits[5:10]} {digits[10:15]}.{digits[15:21]} {digits[21:26]}")
        values["boletoBarCode"] = js(digits[:44])
        values["boletoBarCodeType"] = '"i25"'
    return PAYMENT.render(values)


def benefits(discount: int, h: int, hx: str) -> str:
    if discount <= 0:
        return "[]"
    return js(
        [
            {
                "featured": True,
                "id": uuid_from_hex(hx[16:48]),
                "name": f"Promoção {5 + (h >> 9) % 4 * 5}% OFF",
                "description": "Desconto aplicado no carrinho",
                "matchedParameters": {"paymentMethodId": "*"},
                "additionalInfo": None,
            }
        ]
    )


def marketing(view: OrderView, discount: int, h: int) -> str:
    pick = (h >> 40) % 11
    if pick >= len(_UTM) and discount <= 0:
        return _NULL
    source, medium, campaign = _UTM[pick % len(_UTM)]
    coupon = f"VOLTA{5 + (h >> 9) % 4 * 5}" if discount > 0 and (h >> 44) & 1 else ""
    return js(
        {
            "id": "marketingData",
            "utmSource": source,
            "utmPartner": "",
            "utmMedium": medium,
            "utmCampaign": campaign,
            "coupon": coupon,
            "utmiCampaign": "",
            "utmipage": "",
            "utmiPart": "",
            "marketingTags": [],
        }
    )
