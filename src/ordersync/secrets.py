"""Secrets: read from the command's environment, remembered when seen, masked in URLs, scrubbed
from anything printed or logged, and kept as digests where they must be checked later.

One home for every rule about secrets, below config (which registers the warehouse password as it
reads the settings) and everything that prints.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

from ordersync.errors import ConfigError

MASK = "***"
#: The short form of ORDERSYNC__WAREHOUSE__URL (config's ENV_SHORT_WAREHOUSE): a URL though its
#: name does not say so.
_SHORT_URL_VARIABLE = "ORDERSYNC_WAREHOUSE"

# The environment of the command being run: os.environ, or the caller's variables for a command
# that a running serve runs for another process (serve.channel). Read it through `command_variables()`, never
# os.environ, so such a command sees its caller's settings and credentials and not serve's.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("ordersync_environ", default=None)


def command_variables() -> Mapping[str, str]:
    """The environment variables of the command being run."""
    own = _ENVIRON.get()
    return os.environ if own is None else own


@contextlib.contextmanager
def command_environ(variables: Mapping[str, str]) -> Iterator[None]:
    """Run a command with `variables` as its environment, in this context only (other threads of
    the process, which read os.environ, are not touched)."""
    token = _ENVIRON.set(dict(variables))
    try:
        yield
    finally:
        _ENVIRON.reset(token)


# --- credentials named by a tenant ------------------------------------------------------------


def read_secret(env_var: str | None, what: str) -> SecretStr:
    """Read a credential from the environment variable a tenant names, without ever echoing it."""
    if not env_var:
        raise ConfigError(f"{what}: no environment variable is configured; set it with tenants add")
    value = command_variables().get(env_var)
    if value is None:
        raise ConfigError(f"{what}: environment variable {env_var} is not set; export it and run again")
    register_secret(value)
    return SecretStr(value)


# --- remembered when seen, masked in URLs, scrubbed from output ------------------------------

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
# ORDERSYNC_* (and libpq's PG*) variables whose values are secrets by their name
_SECRET_VAR = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET")
# scheme://user:PASSWORD@ up to the last '@' before any '?', so a raw '@' or '/' in a password is
# masked whole (over-masking an '@' in a database name is the safe mistake)
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):([^?]*)@")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)([^&#]*)")


def _forms(secret: str) -> set[str]:
    """How a secret can appear in text: as is, percent-encoded, inside a JSON string."""
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}


def register_secret(value: str | None) -> None:
    """Remember a secret so that `scrub` removes it from anything printed or logged."""
    if value:
        with _SECRETS_LOCK:
            _SECRETS.update(_forms(value))


def raw_url_password(url: str) -> str | None:
    """The password of a scheme://user:PASSWORD@host URL as written (not decoded), or None."""
    m = _URL_PASSWORD.match(url)
    return m.group(2) if m else None


def url_passwords(url: str) -> set[str]:
    """Every password a connection string (URL or key=value) may carry, decoded and as written."""
    found: set[str] = set()
    m = _URL_PASSWORD.match(url)
    if m:
        found.add(m.group(2))
    found.update(q.group(2) for q in _QUERY_PASSWORD.finditer(url))
    if "://" in url or "=" in url:
        password = _libpq_fields(url).get("password")
        if isinstance(password, str):
            found.add(password)
    return {p for p in found if p}


def _libpq_fields(url: str) -> dict[str, Any]:
    """libpq's reading of a connection string, {} when it is none. libpq reads only postgres:// and
    postgresql:// URIs, so a DuckDB path or URL is refused without importing psycopg (start-up)."""
    if "://" in url and not url.startswith(("postgres://", "postgresql://")):
        return {}
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(url)
    except ProgrammingError:
        return {}


def register_url_secrets(url: str) -> None:
    for password in url_passwords(url):
        register_secret(password)


def mask_url(url: str) -> str:
    """The connection string with its password shown as ***, safe for output and logs."""
    if "://" in url:
        masked = _URL_PASSWORD.sub(rf"\1:{MASK}@", url, count=1)
        return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", masked)
    if "=" in url:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        try:
            if "password" in conninfo_to_dict(url):
                return make_conninfo(url, password=MASK)
        except ProgrammingError:
            return re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", rf"\g<1>{MASK}", url)
    return url


def known_secrets() -> set[str]:
    """What `scrub` removes: every secret registered so far, and the values of the ORDERSYNC_* and
    PG* variables named like secrets (and the passwords inside ORDERSYNC_* URLs) set right now."""
    with _SECRETS_LOCK:
        found = set(_SECRETS)
    for var, value in _all_environ_items():
        upper = var.upper()
        if not value or not upper.startswith(("ORDERSYNC", "PG")):
            continue
        if _SECRET_VAR.search(upper):
            found.update(_forms(value))
        elif "URL" in upper or upper == _SHORT_URL_VARIABLE:
            for password in url_passwords(value):
                found.update(_forms(password))
    found.discard(MASK)
    return found


def _all_environ_items() -> list[tuple[str, str]]:
    """This process's variables and, in a command run for another process, its caller's too."""
    items = list(os.environ.items())
    own = _ENVIRON.get()
    if own is not None:
        items.extend(own.items())
    return items


def scrub(text: str, secrets: Collection[str] | None = None) -> str:
    """`text` with every known secret (or every one of `secrets`) replaced by ***.

    A secret of three characters or fewer is only replaced where it stands alone (not inside a
    word), or a two-letter password would garble every message."""
    for secret in sorted(known_secrets() if secrets is None else secrets, key=len, reverse=True):
        if secret not in text:
            continue
        if len(secret) > 3:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


# --- digests: a token or hook secret is stored only as its SHA-256 ------------------------------
# A token is 256 random bits, so a fast hash is as safe as a slow one: nobody can guess their way
# back from the hash.


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", errors="surrogatepass")).hexdigest()


def secret_matches(given: str | None, stored_hash: str | None) -> bool:
    if not given or not stored_hash:
        return False
    return hmac.compare_digest(digest(given), stored_hash)
