"""What ties an order to a person: its identifiers, normalised and validated, in precedence order.

By precedence: the platform's customer id (VTEX `userProfileId`, a push event's `customer.id`), a valid
national document, a normalised e-mail address, an E.164 phone number. Whatever does not validate is
no identifier at all: a wrong identifier merges strangers, a missing one only leaves an order alone.

Raw values stay in the order columns and `cdp.customer_identifiers`; anything shown to people goes
through `mask`, and anything leaving ordersync carries keys (`keys.py`), never these values.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

import phonenumbers

from ordersync.customers.documents import DocType, doc_type_named, masked, read_document
from ordersync.text import unsafe_character

__all__ = [
    "DocType",
    "IdKind",
    "Identifier",
    "country_of_zone",
    "doc_type_named",
    "document_identifier",
    "email_identifier",
    "identifiers_of",
    "mask",
    "normalise_email",
    "normalise_phone",
    "normalise_platform_id",
    "phone_identifier",
    "platform_identifier",
    "precedence",
]


class IdKind(StrEnum):
    """The kinds of identifier, in precedence order (the first is the strongest)."""

    PLATFORM = "platform"
    DOCUMENT = "document"
    EMAIL = "email"
    PHONE = "phone"


_RANK = {kind: rank for rank, kind in enumerate(IdKind)}


class Identifier(NamedTuple):
    """One normalised identifier. A document's value carries its type: `cpf:52998224725`. A named
    tuple, not a dataclass: a full recompute hashes and compares hundreds of thousands of them,
    and a tuple does both in C."""

    kind: IdKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def precedence(identifier: Identifier) -> tuple[int, str]:
    """Sort key: stronger kinds first, then by value (so equal kinds still sort one way)."""
    return (_RANK[identifier.kind], identifier.value)


# Values that systems write where they have no id.
_NO_VALUE = frozenset({"", "-", "0", "null", "none", "nil", "undefined", "unknown", "nan", "n/a"})


def normalise_platform_id(raw: str | None) -> str | None:
    """The platform's customer id, trimmed (ids are case-sensitive), or None for a placeholder."""
    if raw is None:
        return None
    value = raw.strip()
    if value.lower() in _NO_VALUE or unsafe_character(value):
        return None
    return value


# --- e-mail -------------------------------------------------------------------------------------

# VTEX masks a marketplace buyer's address as `<address>-<hex>.ct.vtex.com.br` (also `...-<hex>b.ct...`,
# the 'b' being a hex digit too): the address before the suffix is the buyer's. `<hex>@ct.vtex.com.br`
# and VTEX's conversation tracker addresses are relays that say nothing about the person.
_VTEX_MASKED = re.compile(r"(?P<address>.+)-[0-9a-f]+\.ct\.vtex\.com\.br")
_VTEX_RELAY = "ct.vtex.com.br"
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
# Local parts and domains typed into a required field by buyers (and stores) who give no address.
_PLACEHOLDER_LOCALS = frozenset(
    {
        "test", "teste", "testing", "noemail", "no-email", "no_email", "no.email", "noreply", "no-reply",
        "sememail", "sem-email", "sem_email", "sem.email", "semmail", "naotem", "nao.tem", "naotenho",
        "nao", "none", "null", "nil", "email", "e-mail", "mail", "x", "xx", "xxx", "asdf", "cliente",
        "client", "customer", "guest", "anonymous", "anonimo", "unknown",
    }
)  # fmt: skip
_PLACEHOLDER_DOMAINS = frozenset(
    {"noemail.com", "no-email.com", "sememail.com", "semmail.com", "naotem.com", "nao.com", "email.com", "test.com",
     "teste.com", "mailinator.com"}
)  # fmt: skip


# Reading is cached: a customer's orders repeat the same few values, and a full recompute reads them all.
_CACHED = 65_536


@functools.lru_cache(maxsize=_CACHED)
def normalise_email(raw: str | None) -> str | None:
    """The address trimmed and lowercased, VTEX's masked form unwrapped, or None when there is no
    address of a person: malformed, a relay, a placeholder."""
    if raw is None:
        return None
    value = raw.strip().lower()
    if unsafe_character(value):
        return None
    unwrapped = _VTEX_MASKED.fullmatch(value)
    if unwrapped:
        value = unwrapped.group("address")
    if not _EMAIL.fullmatch(value):
        return None
    local, domain = value.split("@")
    if domain == _VTEX_RELAY or domain.endswith("." + _VTEX_RELAY):
        return None
    if local in _PLACEHOLDER_LOCALS or domain in _PLACEHOLDER_DOMAINS or (len(local) > 1 and len(set(local)) == 1):
        return None
    return value


# --- phone --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=_CACHED)
def normalise_phone(raw: str | None, country: str | None) -> str | None:
    """The number in E.164 (`+5511987651234`), read as dialled in `country` unless it has a '+'; None
    when it is not a valid number there, or its subscriber part is one digit repeated."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    national = str(number.national_number)
    if len(set(national[-8:])) == 1:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- the identifiers of an order ----------------------------------------------------------------


@functools.lru_cache(maxsize=_CACHED)
def platform_identifier(raw: str | None) -> Identifier | None:
    value = normalise_platform_id(raw)
    return None if value is None else Identifier(IdKind.PLATFORM, value)


@functools.lru_cache(maxsize=_CACHED)
def document_identifier(raw: str | None, doc_type: str | None, country: str | None) -> Identifier | None:
    """A valid document as `type:value`, read for the named type or else the tenant's country."""
    read = read_document(raw, doc_type, country)
    return None if read is None else Identifier(IdKind.DOCUMENT, f"{read[0]}:{read[1]}")


@functools.lru_cache(maxsize=_CACHED)
def email_identifier(raw: str | None) -> Identifier | None:
    value = normalise_email(raw)
    return None if value is None else Identifier(IdKind.EMAIL, value)


@functools.lru_cache(maxsize=_CACHED)
def phone_identifier(raw: str | None, country: str | None) -> Identifier | None:
    value = normalise_phone(raw, country)
    return None if value is None else Identifier(IdKind.PHONE, value)


def identifiers_of(
    customer_id: str | None,
    email: str | None,
    document: str | None,
    document_type: str | None,
    phone: str | None,
    country: str | None,
) -> list[Identifier]:
    """An order's identifiers in precedence order, the invalid ones left out. `country` is the
    tenant's (ISO 3166 alpha-2, `country_of_zone`), used to read documents and phones."""
    found = (
        platform_identifier(customer_id),
        document_identifier(document, document_type, country),
        email_identifier(email),
        phone_identifier(phone, country),
    )
    return [identifier for identifier in found if identifier is not None]


# --- shown to people ----------------------------------------------------------------------------


def _mask_tail(text: str, shown: int, start: int = 0) -> str:
    """`text` with every letter or digit from `start` on shown as '*', except the last `shown`."""
    hidden = sum(c.isalnum() for c in text[start:]) - shown
    out = list(text)
    for i in range(start, len(out)):
        if hidden <= 0:
            break
        if out[i].isalnum():
            out[i] = "*"
            hidden -= 1
    return "".join(out)


def mask(identifier: Identifier) -> str:
    """The identifier as it may be shown: `j***@example.com`, `***.***.*47-25`, `+55 ** *****-1234`."""
    value = identifier.value
    if identifier.kind is IdKind.EMAIL:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if identifier.kind is IdKind.DOCUMENT:
        name, _, number = value.partition(":")
        doc_type = doc_type_named(name)
        return masked(doc_type, number) if doc_type is not None else "***"
    if identifier.kind is IdKind.PHONE:
        try:
            phone = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return _mask_tail(value, 4, 1)
        text = phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return _mask_tail(text, 4, len(f"+{phone.country_code}"))
    return "***" + value[-4:] if len(value) > 8 else "***"


# --- the tenant's country -----------------------------------------------------------------------


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country, from the time zone database's zone.tab (one country per zone), links
    (`Brazil/East`) included through tzdata.zi's link lines where the database ships it."""
    for directory in zoneinfo.TZPATH:
        table = Path(directory) / "zone.tab"
        if table.is_file():
            break
    else:
        return {}
    countries: dict[str, str] = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) >= 3:
                countries[fields[2]] = fields[0]
    links = table.with_name("tzdata.zi")
    if links.is_file():
        for line in links.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[0] == "L" and fields[1] in countries:
                countries.setdefault(fields[2], countries[fields[1]])
    return countries


def country_of_zone(tz: str | None) -> str | None:
    """The country (ISO 3166 alpha-2) of an IANA time zone: America/Sao_Paulo -> BR,
    America/Argentina/Buenos_Aires -> AR; None for a zone of no one country (UTC, Etc/GMT+3) or unknown."""
    if not tz:
        return None
    return _zone_countries().get(tz.strip())
