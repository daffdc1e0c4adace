"""Customer identifiers: documents with their check digits (CPF, CNPJ numeric and alphanumeric, CUIT,
DNI), e-mails with VTEX's masked forms and placeholders, E.164 phones, precedence, masking, and the
country of a tenant's zone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync.customers.documents import DocType, formatted, read_document, valid_cnpj, valid_cpf
from ordersync.customers.identifiers import (
    Identifier,
    IdKind,
    country_of_zone,
    identifiers_of,
    mask,
    normalise_email,
    normalise_phone,
    normalise_platform_id,
    precedence,
)
from support.properties import examples

# --- an independent oracle for check digits (the textbook forms, not the module's) ---------------


def cpf_check(nine: str) -> str:
    digits = [int(c) for c in nine]
    for start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(start, 1, -1), strict=False))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


def cnpj_check(twelve: str) -> str:
    values = [ord(c) - 48 for c in twelve]
    for weights in ("543298765432", "6543298765432"):
        total = sum(v * int(w) for v, w in zip(values, weights, strict=True))
        values.append(0 if total % 11 < 2 else 11 - total % 11)
    return twelve + "".join(str(v) for v in values[12:])


# --- documents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "doc_type", "country", "expected"),
    [
        ("529.982.247-25", "cpf", None, "cpf:52998224725"),
        ("52998224725", None, "BR", "cpf:52998224725"),
        (" 529 982 247 25 ", "CPF", "AR", "cpf:52998224725"),  # the order's type wins over the country
        ("11.222.333/0001-81", "cnpj", None, "cnpj:11222333000181"),
        ("11222333000181", None, "BR", "cnpj:11222333000181"),
        ("12.ABC.345/01DE-35", "cnpj", None, "cnpj:12ABC34501DE35"),  # RFB's alphanumeric example
        ("12.abc.345/01de-35", None, "BR", "cnpj:12ABC34501DE35"),
        ("20-26756539-3", "cuit", None, "cuit:20267565393"),
        ("20267565393", None, "AR", "cuit:20267565393"),
        ("20267565393", "cuil", None, "cuit:20267565393"),
        ("20.123.456", None, "AR", "dni:20123456"),
        ("01234567", "dni", None, "dni:1234567"),
    ],
)
def test_valid_documents_read_as_type_and_compact_value(
    raw: str, doc_type: str | None, country: str | None, expected: str
) -> None:
    found = identifiers_of(None, None, raw, doc_type, None, country)
    assert found == [Identifier(IdKind.DOCUMENT, expected)]


@pytest.mark.parametrize(
    ("raw", "doc_type", "country"),
    [
        ("529.982.247-26", "cpf", None),  # wrong check digit
        ("111.111.111-11", "cpf", None),  # passes mod 11, refused as repeated
        ("000.000.000-00", None, "BR"),
        ("11.222.333/0001-82", "cnpj", None),
        ("12.ABC.345/01DE-36", "cnpj", None),
        ("12.ABC.345/01DE-3A", "cnpj", None),  # check digits are numeric
        ("AAAAAAAAAAAAAA", "cnpj", None),
        ("20-26756539-4", "cuit", None),
        ("99-26756539-3", "cuit", None),  # unknown prefix
        ("11111111", "dni", None),
        ("123456", "dni", None),
        ("52998224725", None, None),  # no type and no country: not guessed
        ("52998224725", "cedulaCOL", "BR"),  # a type ordersync does not read
        ("52998224725", None, "US"),
        ("5299822472５", "cpf", None),  # a full-width digit is not a digit here
        ("", "cpf", "BR"),
        (None, "cpf", "BR"),
    ],
)
def test_invalid_documents_are_no_identifier(raw: str | None, doc_type: str | None, country: str | None) -> None:
    assert identifiers_of(None, None, raw, doc_type, None, country) == []


@given(st.text("0123456789", min_size=9, max_size=9))
@settings(max_examples=examples(200))
def test_a_cpf_is_valid_exactly_when_its_check_digits_are(nine: str) -> None:
    number = cpf_check(nine)
    assert valid_cpf(number) == (len(set(number)) > 1)
    for position in (9, 10):
        for digit in "0123456789":
            if digit != number[position]:
                assert not valid_cpf(number[:position] + digit + number[position + 1 :])
    if len(set(number)) > 1:
        assert read_document(formatted(DocType.CPF, number), None, "BR") == (DocType.CPF, number)


@given(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12))
@settings(max_examples=examples(200))
def test_an_alphanumeric_cnpj_is_valid_exactly_when_its_check_digits_are(twelve: str) -> None:
    number = cnpj_check(twelve)
    assert valid_cnpj(number) == (len(set(number)) > 1)
    for position in (12, 13):
        for digit in "0123456789":
            if digit != number[position]:
                assert not valid_cnpj(number[:position] + digit + number[position + 1 :])
    if len(set(number)) > 1:
        assert read_document(formatted(DocType.CNPJ, number).lower(), "cnpj", None) == (DocType.CNPJ, number)


# --- e-mail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("ana.souza.17@mail.example", "ana.souza.17@mail.example"),
        # VTEX's masked marketplace form: the address before the suffix
        ("joao.silva@gmail.com-1a2b3c4db.ct.vtex.com.br", "joao.silva@gmail.com"),
        ("Joao-Silva@my-shop.com.br-0f0f0f0f.ct.vtex.com.br", "joao-silva@my-shop.com.br"),
        ("293b18ed65644179ad712147b23a783a@ct.vtex.com.br", None),
        ("conversationtracker+abc123@ct.vtex.com.br", None),
        ("someone-abc.ct.vtex.com.br", None),
        ("x@abc.ct.vtex.com.br", None),
        ("noemail@gmail.com", None),
        ("Teste@Teste.com", None),
        ("cliente@loja.com.br", None),
        ("aaaa@gmail.com", None),
        ("someone@noemail.com", None),
        ("not-an-address", None),
        ("a@b", None),
        ("a@@b.com", None),
        ("a b@c.com", None),
        ("a@b.com\u202e", None),
        ("", None),
        (None, None),
    ],
)
def test_emails_are_normalised_unmasked_or_refused(raw: str | None, expected: str | None) -> None:
    assert normalise_email(raw) == expected


# --- phone --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(11) 98765-1234", "BR", "+5511987651234"),
        ("+55 11 98765-1234", None, "+5511987651234"),
        ("+55 11 98765-1234", "AR", "+5511987651234"),  # an international number is read as written
        ("011 15-2345-6789", "AR", "+5491123456789"),
        ("+54 9 11 2345-6789", None, "+5491123456789"),
        ("98765-1234", None, None),  # no country to read it in
        ("(11) 99999-9999", "BR", None),  # one digit repeated
        ("+55 12", None, None),
        ("call me", "BR", None),
        ("", "BR", None),
        (None, "BR", None),
    ],
)
def test_phones_are_e164_for_the_country(raw: str | None, country: str | None, expected: str | None) -> None:
    assert normalise_phone(raw, country) == expected


# --- precedence and masking ---------------------------------------------------------------------


def test_identifiers_come_in_precedence_order_and_skip_the_invalid() -> None:
    found = identifiers_of(" 8f2c0e1a-uid ", "Ana@Example.com", "529.982.247-25", "cpf", "(11) 98765-1234", "BR")
    assert found == [
        Identifier(IdKind.PLATFORM, "8f2c0e1a-uid"),
        Identifier(IdKind.DOCUMENT, "cpf:52998224725"),
        Identifier(IdKind.EMAIL, "ana@example.com"),
        Identifier(IdKind.PHONE, "+5511987651234"),
    ]
    assert sorted(reversed(found), key=precedence) == found
    assert identifiers_of("null", "noemail@x.com", "123", "cpf", "0", "BR") == []
    assert normalise_platform_id("  ") is None
    assert normalise_platform_id("Abc-1") == "Abc-1"  # ids are case-sensitive


@pytest.mark.parametrize(
    ("identifier", "shown"),
    [
        (Identifier(IdKind.EMAIL, "joao@example.com"), "j***@example.com"),
        (Identifier(IdKind.DOCUMENT, "cpf:52998224725"), "***.***.*47-25"),
        (Identifier(IdKind.DOCUMENT, "cnpj:12ABC34501DE35"), "**.***.***/**DE-35"),
        (Identifier(IdKind.DOCUMENT, "cuit:20267565393"), "**-*****539-3"),
        (Identifier(IdKind.DOCUMENT, "dni:20123456"), "**.***.456"),
        (Identifier(IdKind.DOCUMENT, "dni:1234567"), "*.***.567"),
        (Identifier(IdKind.PHONE, "+5511987651234"), "+55 ** *****-1234"),
        (Identifier(IdKind.PLATFORM, "8f2c0e1a-4b7d-4c1e"), "***4c1e"),
        (Identifier(IdKind.PLATFORM, "short"), "***"),
    ],
)
def test_masks_show_only_what_a_person_recognises(identifier: Identifier, shown: str) -> None:
    assert mask(identifier) == shown


# --- country --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "country"),
    [
        ("America/Sao_Paulo", "BR"),
        ("America/Recife", "BR"),
        ("America/Argentina/Buenos_Aires", "AR"),
        ("America/Argentina/Cordoba", "AR"),
        ("America/Mexico_City", "MX"),
        ("Brazil/East", "BR"),  # links read as their zone
        ("America/Buenos_Aires", "AR"),
        ("UTC", None),
        ("Etc/GMT+3", None),
        ("Nowhere/Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_country_of_zone(zone: str | None, country: str | None) -> None:
    assert country_of_zone(zone) == country


# --- invariants ---------------------------------------------------------------------------------

_EMAILISH = st.text(st.sampled_from("aAbZ.-+_ 0@9x"), max_size=24) | st.builds(
    lambda local, hexa, b: f"{local}@shop.com-{hexa}{b}.ct.vtex.com.br",
    st.text("abc.D", min_size=1, max_size=6),
    st.text("0123456789abcdef", min_size=1, max_size=8),
    st.sampled_from(["", "b"]),
)


@given(_EMAILISH)
@settings(max_examples=examples(300))
def test_a_normalised_email_is_its_own_normal_form(raw: str) -> None:
    value = normalise_email(raw)
    if value is not None:
        assert normalise_email(value) == value
        assert value == value.strip().lower()
        assert not value.endswith("ct.vtex.com.br")
        assert mask(Identifier(IdKind.EMAIL, value)) != value


@given(
    st.from_regex(r"(\+5[45] ?)?\(?[1-9][0-9]\)? ?9? ?[0-9]{4}-?[0-9]{4}", fullmatch=True)
    | st.text("0123456789 +()-", max_size=18),
    st.sampled_from(["BR", "AR", None]),
)
@settings(max_examples=examples(300))
def test_an_e164_phone_reads_back_as_itself_anywhere(raw: str, country: str | None) -> None:
    value = normalise_phone(raw, country)
    if value is not None:
        assert value.startswith("+")
        assert {normalise_phone(value, c) for c in ("BR", "AR", None)} == {value}
        assert value[-4:] in mask(Identifier(IdKind.PHONE, value))
        assert value[1:-4] not in mask(Identifier(IdKind.PHONE, value)).replace(" ", "")
