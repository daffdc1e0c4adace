"""ordersync.secrets: the digests that tokens and hook secrets are kept as, and the raw URL password."""

from __future__ import annotations

import hashlib

import pytest

from ordersync import config, secrets


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
