"""Customer keys: HMAC-SHA256 of an identifier under a per-tenant subkey of one secret.

A plain hash of a CPF or a phone number is reversed by trying them all; an HMAC under a secret is not.
The per-tenant subkey keeps one person's keys in two tenants unlinkable. Events, webhooks and logs
carry these keys, never the identifiers.

The secret comes from the environment variable `[customers] identity_key_env` names, when it is set
and present, else from `identity_key_file` (created with 32 random bytes, mode 0600, when missing).
Changing the secret changes every key, so the warehouse keeps its `fingerprint` and refuses another.
The secret itself is never printed or logged; errors name where it comes from and what to do.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import tempfile
from pathlib import Path

from ordersync.customers.identifiers import Identifier
from ordersync.errors import ConfigError
from ordersync.secrets import command_variables, register_secret

log = logging.getLogger("ordersync.customers")

DEFAULT_KEY_FILE = ".ordersync/identity.key"
KEY_PREFIX = "cus_"
#: Bytes of a secret ordersync makes; a secret given to it must have at least MIN_SECRET_BYTES.
SECRET_BYTES = 32
MIN_SECRET_BYTES = 16
_KEY_HEX = 32  # 128 bits of the HMAC: no collision among any tenant's customers
_FINGERPRINT_HEX = 16
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
# Domain separation: subkeys, order keys and the fingerprint can never equal one another.
_SUBKEY_LABEL = b"ordersync customers tenant\x00"
_FINGERPRINT_LABEL = b"ordersync customers fingerprint\x00"
_ORDER_KIND = "order"  # not an IdKind: the key of an order that has no identifier

_MAKE_ONE = "python -c 'import secrets; print(secrets.token_hex(32))'"


class IdentityKeys:
    """The secret, held only here; hands out keys and the fingerprint, never the secret."""

    __slots__ = ("_secret", "_subkeys", "source")

    def __init__(self, secret: bytes, source: str) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the customer identity secret from {source} has {len(secret)} bytes, fewer than {MIN_SECRET_BYTES}: "
                f"use a longer one (for example: {_MAKE_ONE})"
            )
        self._secret = secret
        self._subkeys: dict[int, bytes] = {}
        #: Where the secret came from, safe to show: "environment variable X" or "file P".
        self.source = source

    def __repr__(self) -> str:
        return f"IdentityKeys(source={self.source!r}, fingerprint={self.fingerprint()!r})"

    def fingerprint(self) -> str:
        """A short hash of the secret, safe to store and show, to recognise the secret later."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self._secret).hexdigest()[:_FINGERPRINT_HEX]

    def _subkey(self, tenant_id: int) -> bytes:
        subkey = self._subkeys.get(tenant_id)
        if subkey is None:
            subkey = hmac.digest(self._secret, _SUBKEY_LABEL + str(tenant_id).encode(), "sha256")
            self._subkeys[tenant_id] = subkey
        return subkey

    def _key(self, tenant_id: int, kind: str, value: str) -> str:
        message = f"{kind}\x00{value}".encode("utf-8", errors="surrogatepass")
        return KEY_PREFIX + hmac.digest(self._subkey(tenant_id), message, "sha256").hex()[:_KEY_HEX]

    def key_for(self, tenant_id: int, identifier: Identifier) -> str:
        """The customer key an identifier gives in a tenant: `cus_` and 32 hex digits."""
        return self._key(tenant_id, identifier.kind.value, identifier.value)

    def order_key(self, tenant_id: int, order_id: str) -> str:
        """The key of a customer known by one order alone (an order with no identifier)."""
        return self._key(tenant_id, _ORDER_KIND, order_id)


def _from_text(text: str) -> bytes:
    """A secret given as text: hex is read as its bytes (so a key file's `xxd -p` moves into a variable
    with its keys unchanged), any other text as its UTF-8."""
    stripped = text.strip()
    return bytes.fromhex(stripped) if _HEX.fullmatch(stripped) else stripped.encode("utf-8", errors="surrogatepass")


def _create(path: Path) -> None:
    """Write a new random secret at `path`, mode 0600, atomically: a process racing to create it too
    ends up reading the same secret, never a half-written one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".identity-", suffix=".tmp")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(SECRET_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
    finally:
        os.unlink(tmp)
    if os.name == "posix":
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    log.warning(
        "made a new customer identity secret in %s: back it up, customer keys depend on it (fingerprint %s)",
        path,
        IdentityKeys(path.read_bytes(), f"file {path}").fingerprint(),
    )


def _read_file(path: Path) -> bytes:
    try:
        if not path.exists():
            _create(path)
        if os.name == "posix":
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise ConfigError(
                    f"the customer identity secret file {path} can be read or written by others (mode {mode:o}): "
                    f"run `chmod 600 {path}` and run again"
                )
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read or create the customer identity secret file {path} ({exc.strerror or exc}): "
            "fix its directory's permissions, or set [customers] identity_key_file or identity_key_env"
        ) from None


def load_identity_keys(env_name: str | None, key_file: str | os.PathLike[str] = DEFAULT_KEY_FILE) -> IdentityKeys:
    """The secret from the variable `env_name` (`[customers] identity_key_env`) when it is given and
    set, else from `key_file` (`identity_key_file`), which is created when missing."""
    if env_name:
        value = command_variables().get(env_name)
        if value is not None:
            if not value.strip():
                raise ConfigError(
                    f"environment variable {env_name} (customers identity_key_env) is empty: "
                    f"set it to the secret customer keys are made with, or unset it to use the key file"
                )
            register_secret(value)
            return IdentityKeys(_from_text(value), f"environment variable {env_name}")
    path = Path(key_file)
    secret = _read_file(path)
    register_secret(secret.hex())
    return IdentityKeys(secret, f"file {path}")


def check_fingerprint(keys: IdentityKeys, stored: str | None) -> None:
    """Refuse a secret other than the one the warehouse's customer keys were made with (`stored`,
    None before the first keys were made)."""
    if stored is not None and not hmac.compare_digest(stored, keys.fingerprint()):
        raise ConfigError(
            f"the customer identity secret from {keys.source} (fingerprint {keys.fingerprint()}) is not the one "
            f"this warehouse's customer keys were made with (fingerprint {stored}): restore that secret, "
            "or point [customers] identity_key_env or identity_key_file at it"
        )
