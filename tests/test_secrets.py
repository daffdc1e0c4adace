"""ordersync.secrets: masking URLs, scrubbing short secrets, the digests that tokens and hook secrets
are kept as, and the raw URL password. (Settings that register and mask the warehouse password are
tested in tests/config.)"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordersync import config, secrets
from support.properties import examples


def test_digest_is_the_sha256_of_the_utf8_text() -> None:
    assert secrets.digest("ost_abc") == hashlib.sha256(b"ost_abc").hexdigest()
    # a lone surrogate (from a badly decoded header) still hashes instead of raising
    assert len(secrets.digest("\udc80")) == 64


def test_secret_matches_only_the_stored_digest() -> None:
    stored = secrets.digest("s3cret-hook")
    assert secrets.secret_matches("s3cret-hook", stored)
    assert not secrets.secret_matches("s3cret-hooK", stored)
    assert not secrets.secret_matches(None, stored)
    assert not secrets.secret_matches("", stored)
    assert not secrets.secret_matches("s3cret-hook", None)


def test_raw_url_password_is_the_password_as_written() -> None:
    assert secrets.raw_url_password("postgresql://u:p%40ss@db/x") == "p%40ss"
    assert secrets.raw_url_password("postgresql://u@db/x") is None
    assert secrets.raw_url_password("host=db password=p") is None


def test_the_short_warehouse_variable_is_scanned_for_url_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    assert secrets._SHORT_URL_VARIABLE == config.ENV_SHORT_WAREHOUSE
    monkeypatch.setenv(config.ENV_SHORT_WAREHOUSE, "postgresql://u:hunter2-long@db/x")
    assert "hunter2-long" in secrets.known_secrets()


@settings(max_examples=examples(200))
@given(st.text(min_size=1, max_size=30).filter(lambda p: "\x00" not in p))
def test_mask_url_hides_any_encoded_password(password: str) -> None:
    url = f"postgresql://cdp:{quote(password, safe='')}@db.example:5432/cdp?sslmode=require"
    assert secrets.mask_url(url) == "postgresql://cdp:***@db.example:5432/cdp?sslmode=require"


def test_short_secrets_are_scrubbed_only_where_they_stand_alone() -> None:
    secrets.register_secret("zq")
    assert secrets.scrub("password zq, but the word zqx stays") == "password ***, but the word zqx stays"
