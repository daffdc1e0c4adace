"""Platforms: what each kind of store offers (a pull API, change capture, or neither).

A tenant names its platform; adding a platform means a folder under `ordersync.sources` with the
code that reads it, and one `Platform` entry here saying what it offers: a pull API (the sync
engine asks it for a day's orders and their bodies), change capture (a feed to poll, a hook to
receive), or neither (its data is pushed to ordersync, over HTTP or in files).
"""

from __future__ import annotations

from dataclasses import dataclass

from ordersync.errors import ConfigError


@dataclass(frozen=True)
class Platform:
    name: str
    #: has a pull API: tenants need an account, base URL and credentials, and sync/gaps/verify ask it
    pulls: bool
    #: change capture besides the pull ('feed', 'hook'); 'none' is always allowed
    captures: tuple[str, ...]
    description: str


PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        Platform("vtex", pulls=True, captures=("feed", "hook"), description="VTEX: Orders API pull, Feed v3, Hook"),
        Platform("push", pulls=False, captures=(), description="no pull API: events pushed over HTTP or in files"),
    )
}
CHANGE_CAPTURE = ("none", "feed", "hook")

# The `source` column of landed versions, batches and quarantined records: where each came from.
PULL_SOURCE = "vtex-oms"  # the VTEX Orders API, pulled by sync
FEED_SOURCE = "feed"  # VTEX Feed v3 (also the feed's lease stream)
HOOK_SOURCE = "hook"  # VTEX Hook notifications, fetched with get-order
PUSH_SOURCE = "push"  # order events pushed over HTTP
FILE_SOURCE = "file"  # order events or bodies in batch files
#: Sources whose records are fetched from the store again on a quarantine retry.
STORE_SOURCES = frozenset({PULL_SOURCE, HOOK_SOURCE, FEED_SOURCE})
#: Sources whose records are order events or VTEX bodies as sent (parsed again on retry).
PUSHED_SOURCES = frozenset({PUSH_SOURCE, FILE_SOURCE})


def platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ConfigError(f"platform {name!r} is not supported; use one of: {', '.join(PLATFORMS)}") from None
