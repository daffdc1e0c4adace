"""National documents that identify a person or a company: CPF and CNPJ (Brazil, the CNPJ also in its
alphanumeric form), CUIT/CUIL and DNI (Argentina). One home for their check digits and their display.

A document is read for the type the order gives (VTEX `documentType`, a push event's
`customer.document_type`) or, without one, for the tenant's country and the document's length. A value
made of one repeated character is refused: such CPFs pass the check digits and are what forms are
filled with when the buyer has none to give.
"""

from __future__ import annotations

import re
from enum import StrEnum


class DocType(StrEnum):
    CPF = "cpf"
    CNPJ = "cnpj"
    CUIT = "cuit"
    DNI = "dni"


# How orders and events name the types (lowercased); CUIL is a person's CUIT, same digits and check.
_TYPE_NAMES = {
    "cpf": DocType.CPF,
    "cnpj": DocType.CNPJ,
    "cuit": DocType.CUIT,
    "cuil": DocType.CUIT,
    "dni": DocType.DNI,
}
# Separators people and stores write documents with: 529.982.247-25, 12.ABC.345/01DE-35, 20-12345678-6.
_SEPARATORS = re.compile(r"[\s./\-]")
_DIGITS = re.compile(r"[0-9]+")
_CNPJ = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_CUIT_PREFIXES = frozenset({"20", "23", "24", "27", "30", "33", "34", "50", "51", "55"})
# Digits shown when masked; the rest become '*' (the last digits are what a person recognises).
_SHOWN = {DocType.CPF: 4, DocType.CNPJ: 4, DocType.CUIT: 4, DocType.DNI: 3}


def doc_type_named(name: str | None) -> DocType | None:
    """The type an order or event names, None when it names none ordersync reads (or none at all)."""
    if name is None:
        return None
    return _TYPE_NAMES.get(name.strip().lower())


def _repeated(value: str) -> bool:
    return len(set(value)) == 1


def _mod11(values: list[int], weights: range | tuple[int, ...]) -> int:
    """Brazil's check digit: 0 when the remainder is below 2, else 11 minus it."""
    rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def valid_cpf(number: str) -> bool:
    if len(number) != 11 or not _DIGITS.fullmatch(number) or _repeated(number):
        return False
    digits = [int(c) for c in number]
    first = _mod11(digits[:9], range(10, 1, -1))
    return first == digits[9] and _mod11(digits[:10], range(11, 1, -1)) == digits[10]


def valid_cnpj(number: str) -> bool:
    """A numeric or alphanumeric CNPJ (IN RFB 2.229/2024: each character counts as its ASCII code
    minus 48, so '0'-'9' are 0-9 and 'A' is 17; the two check digits stay numeric)."""
    if not _CNPJ.fullmatch(number) or _repeated(number):
        return False
    values = [ord(c) - 48 for c in number]
    first = _mod11(values[:12], (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    second = _mod11(values[:13], (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    return first == values[12] and second == values[13]


def valid_cuit(number: str) -> bool:
    """A CUIT/CUIL: a known prefix, eight digits, a mod-11 check digit (where 11 minus the remainder
    is 10, AFIP changes the prefix and issues 9; 11 gives 0)."""
    if len(number) != 11 or not _DIGITS.fullmatch(number) or _repeated(number) or number[:2] not in _CUIT_PREFIXES:
        return False
    rest = sum(int(c) * w for c, w in zip(number[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
    return "012345678990"[11 - rest] == number[10]


def valid_dni(number: str) -> bool:
    """A DNI: seven or eight digits (leading zeros already dropped); there is no check digit."""
    return 7 <= len(number) <= 8 and bool(_DIGITS.fullmatch(number)) and number[0] != "0" and not _repeated(number)


_VALID = {DocType.CPF: valid_cpf, DocType.CNPJ: valid_cnpj, DocType.CUIT: valid_cuit, DocType.DNI: valid_dni}


def _compact(raw: str, doc_type: DocType) -> str:
    value = _SEPARATORS.sub("", raw).upper()
    if doc_type is DocType.DNI and _DIGITS.fullmatch(value):
        value = value.lstrip("0")  # 01234567 and 1234567 are one DNI
    return value


def _guess(compact: str, country: str | None) -> DocType | None:
    """The type a document of this length has in the tenant's country, when the order names none."""
    if country == "BR":
        return {11: DocType.CPF, 14: DocType.CNPJ}.get(len(compact))
    if country == "AR":
        if len(compact) == 11:
            return DocType.CUIT
        return DocType.DNI if 7 <= len(compact.lstrip("0")) <= 8 else None
    return None


def read_document(raw: str | None, doc_type: str | None, country: str | None) -> tuple[DocType, str] | None:
    """The document's type and compact value (digits, and a CNPJ's letters in upper case), or None
    when it is missing, of a type ordersync does not read, or not valid for its type.

    A type the order names wins over the country; a type it names that ordersync does not read
    (VTEX's `cedulaCOL`, say) reads nothing rather than guessing."""
    if raw is None or not raw.strip():
        return None
    named = doc_type_named(doc_type)
    if doc_type is not None and doc_type.strip() and named is None:
        return None
    kind = named or _guess(_SEPARATORS.sub("", raw).upper(), country)
    if kind is None:
        return None
    value = _compact(raw, kind)
    return (kind, value) if _VALID[kind](value) else None


def formatted(doc_type: DocType, value: str) -> str:
    """The document as people write it: 529.982.247-25, 12.ABC.345/01DE-35, 20-12345678-6, 12.345.678."""
    if doc_type is DocType.CPF:
        return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"
    if doc_type is DocType.CNPJ:
        return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"
    if doc_type is DocType.CUIT:
        return f"{value[:2]}-{value[2:10]}-{value[10:]}"
    return f"{int(value):,}".replace(",", ".")  # a DNI has no leading zero


def masked(doc_type: DocType, value: str) -> str:
    """The formatted document with all but its last few characters shown as '*': ***.***.*47-25."""
    text = formatted(doc_type, value)
    hidden = sum(c.isalnum() for c in text) - _SHOWN[doc_type]
    out = []
    for c in text:
        if c.isalnum() and hidden > 0:
            out.append("*")
            hidden -= 1
        else:
            out.append(c)
    return "".join(out)
