"""Pre-rendered JSON templates for get-order bodies.

A skeleton is written once with orjson; each slot ("@@name@@") becomes a `{name}` field of a format
string. Rendering an order is then a single `str.format_map` over JSON fragments, with no dict
building or deep copies per request.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Any

import orjson

_SLOT = re.compile(r'"@@([A-Za-z0-9_]+)@@"')


def S(name: str) -> str:
    """A slot in a skeleton; filled with a raw JSON fragment at render time."""
    return f"@@{name}@@"


def js(value: Any) -> str:
    """A value as a JSON fragment."""
    return orjson.dumps(value).decode()


class Template:
    """A JSON skeleton split into literal pieces around its slots.

    Rendering interleaves the literals with the slot values and joins once: several times faster
    than `str.format_map` over a 10 KB format string.
    """

    def __init__(self, skeleton: Any) -> None:
        raw = orjson.dumps(skeleton).decode()
        pieces = _SLOT.split(raw)
        self._literals = pieces[0::2]
        self._names = pieces[1::2]
        self.slots = frozenset(self._names)
        self._get = operator.itemgetter(*self._names) if len(self._names) > 1 else None
        self._size = 2 * len(self._names) + 1

    def render(self, values: Mapping[str, str]) -> str:
        if self._get is None:
            if not self._names:
                return self._literals[0]
            return self._literals[0] + values[self._names[0]] + self._literals[1]
        out: list[str] = [""] * self._size
        out[0::2] = self._literals
        out[1::2] = self._get(values)
        return "".join(out)


_ADDRESS_FIELDS: dict[str, Any] = {
    "addressType": "residential",
    "receiverName": S("receiverName"),
    "addressId": S("addressId"),
    "versionId": None,
    "entityId": None,
    "postalCode": S("postalCode"),
    "city": S("city"),
    "state": S("state"),
    "country": "BRA",
    "street": S("street"),
    "number": S("number"),
    "neighborhood": S("neighborhood"),
    "complement": S("complement"),
    "reference": None,
    "geoCoordinates": S("geoCoordinates"),
}
ADDRESS = Template(_ADDRESS_FIELDS)

CLIENT_PROFILE = Template(
    {
        "id": "clientProfileData",
        "email": S("email"),
        "firstName": S("firstName"),
        "lastName": S("lastName"),
        "documentType": "cpf",
        "document": S("document"),
        "phone": S("phone"),
        "corporateName": None,
        "tradeName": None,
        "corporateDocument": None,
        "stateInscription": None,
        "corporatePhone": None,
        "isCorporate": False,
        "userProfileId": S("userProfileId"),
        "userProfileVersion": None,
        "customerClass": None,
        "customerCode": None,
    }
)

ITEM = Template(
    {
        "uniqueId": S("uniqueId"),
        "id": S("skuId"),
        "productId": S("productId"),
        "ean": S("ean"),
        "lockId": S("lockId"),
        "itemAttachment": {"content": {}, "name": None},
        "attachments": [],
        "quantity": S("quantity"),
        "seller": "1",
        "name": S("name"),
        "refId": S("refId"),
        "price": S("price"),
        "listPrice": S("listPrice"),
        "manualPrice": None,
        "priceTags": [],
        "imageUrl": S("imageUrl"),
        "detailUrl": S("detailUrl"),
        "components": [],
        "bundleItems": [],
        "params": [],
        "offerings": [],
        "attachmentOfferings": [],
        "sellerSku": S("skuId"),
        "priceValidUntil": S("priceValidUntil"),
        "commission": 0,
        "tax": 0,
        "preSaleDate": None,
        "additionalInfo": {
            "brandName": S("brandName"),
            "brandId": S("brandId"),
            "categoriesIds": S("categoriesIds"),
            "categories": S("categories"),
            "productClusterId": "135,142",
            "commercialConditionId": "1",
            "dimension": {"cubicweight": 0.5, "height": 10, "length": 20, "weight": 400, "width": 15},
            "offeringInfo": None,
            "offeringType": None,
            "offeringTypeId": None,
        },
        "measurementUnit": "un",
        "unitMultiplier": 1,
        "sellingPrice": S("price"),
        "isGift": False,
        "shippingPrice": None,
        "rewardValue": 0,
        "freightCommission": 0,
        "priceDefinition": {
            "sellingPrices": [{"value": S("price"), "quantity": S("quantity")}],
            "calculatedSellingPrice": S("price"),
            "total": S("lineTotal"),
            "reason": None,
        },
        "taxCode": None,
        "parentItemIndex": None,
        "parentAssemblyBinding": None,
        "callCenterOperator": None,
        "serialNumbers": None,
        "assemblies": [],
        "costPrice": S("costPrice"),
    }
)

ITEM_METADATA = Template(
    {
        "Id": S("skuId"),
        "Seller": "1",
        "Name": S("name"),
        "SkuName": S("name"),
        "ProductId": S("productId"),
        "RefId": S("refId"),
        "Ean": S("ean"),
        "ImageUrl": S("imageUrl"),
        "DetailUrl": S("detailUrl"),
        "AssemblyOptions": [],
    }
)


def _sla(sla_id: str, estimate: str, channel: str, transit: str) -> dict[str, Any]:
    return {
        "id": sla_id,
        "name": sla_id,
        "shippingEstimate": estimate,
        "deliveryWindow": None,
        "price": S("slaPrice"),
        "deliveryChannel": channel,
        "pickupStoreInfo": {
            "additionalInfo": None,
            "address": None,
            "dockId": None,
            "friendlyName": None,
            "isPickupStore": False,
        },
        "polygonName": "",
        "lockTTL": "10d",
        "pickupPointId": "",
        "transitTime": transit,
        "pickupDistance": 0.0,
    }


LOGISTICS = Template(
    {
        "itemIndex": S("itemIndex"),
        "selectedSla": S("selectedSla"),
        "lockTTL": "10d",
        "price": S("slaPrice"),
        "listPrice": S("slaPrice"),
        "sellingPrice": S("slaPrice"),
        "deliveryWindow": None,
        "deliveryCompany": S("deliveryCompany"),
        "shippingEstimate": S("shippingEstimate"),
        "shippingEstimateDate": S("shippingEstimateDate"),
        "slas": [_sla("Normal", "5bd", "delivery", "4d"), _sla("Expressa", "2bd", "delivery", "1d")],
        "shipsTo": ["BRA"],
        "deliveryIds": [
            {
                "courierId": S("courierId"),
                "courierName": S("deliveryCompany"),
                "dockId": "1",
                "quantity": S("quantity"),
                "warehouseId": "1_1",
                "accountCarrierName": S("hostname"),
                "kitItemDetails": [],
            }
        ],
        "deliveryChannels": [{"id": "delivery", "stockBalance": 0}],
        "deliveryChannel": "delivery",
        "pickupStoreInfo": {
            "additionalInfo": None,
            "address": None,
            "dockId": None,
            "friendlyName": None,
            "isPickupStore": False,
        },
        "addressId": S("addressId"),
        "versionId": None,
        "entityId": None,
        "polygonName": "",
        "pickupPointId": None,
        "transitTime": S("transitTime"),
    }
)

_PAYMENT_COMMON: dict[str, Any] = {
    "id": S("paymentId"),
    "paymentSystem": S("paymentSystem"),
    "paymentSystemName": S("paymentSystemName"),
    "value": S("value"),
    "installments": S("installments"),
    "referenceValue": S("value"),
    "cardHolder": None,
    "cardNumber": None,
    "firstDigits": S("firstDigits"),
    "lastDigits": S("lastDigits"),
    "cvv2": None,
    "expireMonth": S("expireMonth"),
    "expireYear": S("expireYear"),
    "url": S("paymentUrl"),
    "giftCardId": None,
    "giftCardName": None,
    "giftCardCaption": None,
    "redemptionCode": None,
    "group": S("paymentGroup"),
    "tid": S("tid"),
    "dueDate": S("dueDate"),
    "connectorResponses": {
        "Tid": S("tid"),
        "ReturnCode": S("returnCode"),
        "Message": S("returnMessage"),
        "authId": S("authId"),
    },
    "giftCardProvider": None,
    "giftCardAsDiscount": None,
    "koinUrl": None,
    "accountId": S("accountId"),
    "parentAccountId": S("accountId"),
    "bankIssuedInvoiceIdentificationNumber": S("boletoNumber"),
    "bankIssuedInvoiceIdentificationNumberFormatted": S("boletoFormatted"),
    "bankIssuedInvoiceBarCodeNumber": S("boletoBarCode"),
    "bankIssuedInvoiceBarCodeType": S("boletoBarCodeType"),
    "billingAddress": None,
    "paymentOrigin": None,
}
PAYMENT = Template(_PAYMENT_COMMON)

PACKAGE = Template(
    {
        "items": S("packageItems"),
        "courier": S("deliveryCompany"),
        "invoiceNumber": S("invoiceNumber"),
        "invoiceValue": S("value"),
        "invoiceUrl": S("invoiceUrl"),
        "issuanceDate": S("issuanceDate"),
        "trackingNumber": S("trackingNumber"),
        "invoiceKey": S("invoiceKey"),
        "trackingUrl": S("trackingUrl"),
        "embeddedInvoice": "",
        "type": "Output",
        "courierStatus": None,
        "cfop": "5102",
        "restitutions": {},
        "volumes": 1,
        "EnableInferItems": None,
    }
)

ORDER = Template(
    {
        "orderId": S("orderId"),
        "sequence": S("sequence"),
        "marketplaceOrderId": S("marketplaceOrderId"),
        "marketplaceServicesEndpoint": S("servicesEndpoint"),
        "sellerOrderId": S("sellerOrderId"),
        "origin": S("origin"),
        "affiliateId": S("affiliateId"),
        "salesChannel": S("salesChannel"),
        "merchantName": None,
        "status": S("status"),
        "workflowIsInError": False,
        "statusDescription": S("statusDescription"),
        "value": S("value"),
        "creationDate": S("creationDate"),
        "lastChange": S("lastChange"),
        "orderGroup": S("orderGroup"),
        "followUpEmail": S("followUpEmail"),
        "lastMessage": None,
        "hostname": S("hostname"),
        "isCompleted": S("isCompleted"),
        "roundingError": 0,
        "orderFormId": S("orderFormId"),
        "allowCancellation": S("allowCancellation"),
        "allowEdition": False,
        "isCheckedIn": False,
        "authorizedDate": S("authorizedDate"),
        "invoicedDate": S("invoicedDate"),
        "cancelReason": S("cancelReason"),
        "checkedInPickupPointId": None,
        "totals": S("totals"),
        "sellers": [{"id": "1", "name": S("storeName"), "logo": "", "fulfillmentEndpoint": S("fulfillmentEndpoint")}],
        "clientPreferencesData": {"locale": "pt-BR", "optinNewsLetter": S("optinNewsLetter")},
        "cancellationData": S("cancellationData"),
        "taxData": None,
        "subscriptionData": None,
        "itemMetadata": {"Items": S("itemMetadata")},
        "marketplace": {"baseURL": S("servicesEndpoint"), "isCertified": None, "name": S("hostname")},
        "storePreferencesData": {
            "countryCode": "BRA",
            "currencyCode": "BRL",
            "currencyFormatInfo": {
                "CurrencyDecimalDigits": 2,
                "CurrencyDecimalSeparator": ",",
                "CurrencyGroupSeparator": ".",
                "CurrencyGroupSize": 3,
                "StartsWithCurrencySymbol": True,
            },
            "currencyLocale": 1046,
            "currencySymbol": "R$",
            "timeZone": "E. South America Standard Time",
        },
        "customData": None,
        "commercialConditionData": None,
        "openTextField": None,
        "invoiceData": None,
        "changesAttachment": S("changesAttachment"),
        "callCenterOperatorData": None,
        "packageAttachment": {"packages": S("packages")},
        "paymentData": {
            "giftCards": [],
            "transactions": [
                {
                    "isActive": True,
                    "transactionId": S("transactionId"),
                    "merchantName": S("hostname"),
                    "payments": [S("payment")],
                }
            ],
        },
        "shippingData": {
            "id": "shippingData",
            "address": S("address"),
            "logisticsInfo": S("logisticsInfo"),
            "trackingHints": None,
            "selectedAddresses": [S("address")],
            "contactInformation": [],
        },
        "ratesAndBenefitsData": {"id": "ratesAndBenefitsData", "rateAndBenefitsIdentifiers": S("benefits")},
        "marketingData": S("marketingData"),
        "giftRegistryData": None,
        "clientProfileData": S("clientProfileData"),
        "items": S("items"),
        "marketplaceItems": [],
    }
)
