"""Customer keys: HMAC-SHA256 under a per-tenant subkey, the secret from a variable or a 0600 file made
when missing, a fingerprint that recognises the secret, and a secret that never shows."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from ordersync.customers.identifiers import Identifier, IdKind
from ordersync.customers.keys import (
    KEY_PREFIX,
    SECRET_BYTES,
    IdentityKeys,
    check_fingerprint,
    load_identity_keys,
)
from ordersync.errors import ConfigError
from ordersync.secrets import command_environ, scrub

EMAIL = Identifier(IdKind.EMAIL, "ana@example.com")
SECRET = bytes(range(32))
VAR = "ORDERSYNC_TEST_IDENTITY_KEY"


def test_keys_are_pinned_for_a_secret_tenant_and_identifier() -> None:
    # Every stored key depends on this derivation: it must never change between releases.
    keys = IdentityKeys(SECRET, "test")
    assert keys.key_for(1, EMAIL) == "cus_08615d3095c56d6c409053b5bb4e3982"
    assert keys.order_key(1, "v1-0001") == "cus_99c17e5572c71f89ccdb3e8a7d1e9f41"
    assert keys.fingerprint() == "558ec423bacd9ba5"


def test_keys_differ_by_tenant_kind_value_and_secret() -> None:
    keys = IdentityKeys(SECRET, "test")
    key = keys.key_for(1, EMAIL)
    assert key.startswith(KEY_PREFIX)
    assert len(key) == len(KEY_PREFIX) + 32
    int(key.removeprefix(KEY_PREFIX), 16)
    others = {
        keys.key_for(2, EMAIL),
        keys.key_for(1, Identifier(IdKind.PLATFORM, "ana@example.com")),
        keys.key_for(1, Identifier(IdKind.EMAIL, "ana@example.co")),
        keys.order_key(1, "ana@example.com"),
        IdentityKeys(b"another secret of enough bytes", "test").key_for(1, EMAIL),
    }
    assert key not in others
    assert len(others) == 5
    assert keys.key_for(1, EMAIL) == key


def test_a_missing_file_is_made_once_with_random_bytes_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "identity.key"
    first = load_identity_keys(None, path)
    assert path.stat().st_size == SECRET_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["identity.key"]  # no temporary file left
    again = load_identity_keys(VAR, path)  # the variable named but not set: the file
    assert again.fingerprint() == first.fingerprint()
    assert again.key_for(3, EMAIL) == first.key_for(3, EMAIL)
    assert first.source == f"file {path}"
    other = load_identity_keys(None, tmp_path / "other.key")
    assert other.fingerprint() != first.fingerprint()


def test_the_variable_wins_over_the_file_and_hex_equals_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    from_file = load_identity_keys(VAR, path)
    with command_environ({VAR: SECRET.hex()}):
        from_hex = load_identity_keys(VAR, tmp_path / "never-made.key")
    assert from_hex.fingerprint() == from_file.fingerprint()
    assert from_hex.source == f"environment variable {VAR}"
    assert not (tmp_path / "never-made.key").exists()
    with command_environ({VAR: "a passphrase that is not hex, long enough"}):
        from_text = load_identity_keys(VAR, path)
    assert from_text.fingerprint() != from_file.fingerprint()
    assert from_text.fingerprint() == IdentityKeys(b"a passphrase that is not hex, long enough", "x").fingerprint()


@pytest.mark.parametrize("value", ["", "   ", "short"])
def test_an_empty_or_short_variable_is_refused_by_name(tmp_path: Path, value: str) -> None:
    with command_environ({VAR: value}), pytest.raises(ConfigError, match=VAR) as caught:
        load_identity_keys(VAR, tmp_path / "identity.key")
    assert value.strip() == "" or value not in str(caught.value)


def test_a_file_others_can_read_or_a_short_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    path.write_bytes(SECRET)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"chmod 600"):
        load_identity_keys(None, path)
    path.write_bytes(b"tiny")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=r"has 4 bytes"):
        load_identity_keys(None, path)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"cannot read or create .*a-file/identity.key"):
        load_identity_keys(None, blocked / "identity.key")


def test_the_secret_never_shows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "identity.key"
    keys = load_identity_keys(None, path)
    secret = path.read_bytes()
    shown = repr(keys) + caplog.text
    assert secret.hex() not in shown
    assert keys.fingerprint() in caplog.text  # the new file is announced by its fingerprint
    assert scrub(f"leaked {secret.hex()}") == "leaked ***"  # registered with the scrubber
    passphrase = "correct horse battery staple, quite long"
    with command_environ({VAR: passphrase}):
        load_identity_keys(VAR, path)
    assert scrub(f"x {passphrase}") == "x ***"


def test_a_warehouse_refuses_another_secret() -> None:
    keys = IdentityKeys(SECRET, "environment variable X")
    check_fingerprint(keys, None)
    check_fingerprint(keys, keys.fingerprint())
    with pytest.raises(ConfigError, match="environment variable X") as caught:
        check_fingerprint(keys, "0123456789abcdef")
    assert "0123456789abcdef" in str(caught.value)


def test_two_processes_making_the_file_end_with_one_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # another process makes the file between this one's check and its link: this one reads that secret
    path = tmp_path / "identity.key"
    winner = os.urandom(SECRET_BYTES)
    real_link = os.link

    def link_after_winner(src: str, dst: str) -> None:
        Path(dst).write_bytes(winner)
        os.chmod(dst, 0o600)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_winner)
    loaded = load_identity_keys(None, path)
    assert loaded.fingerprint() == IdentityKeys(winner, "x").fingerprint()
    assert [p.name for p in tmp_path.iterdir()] == ["identity.key"]
