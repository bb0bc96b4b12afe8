"""Coordination shared by every process of a run: Telegram accounts and their exclusive
leases, in Redis (``--redis-url``) or in memory for a single process.

The names below load their module (and Redis's client) when first used, so a command
that only mentions the pool's default URL does not load Redis.
"""

from __future__ import annotations

import importlib

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_HOMES = {
    "AccountInfo": "accounts",
    "AccountStore": "accounts",
    "MemoryAccounts": "accounts",
    "RedisAccounts": "accounts",
    "append_session": "accounts",
    "read_sessions_file": "sessions",
    "Lease": "leases",
    "LeasePool": "leases",
    "MemoryLeases": "leases",
    "RedisLeases": "leases",
    "keep_lease": "leases",
    "RedisUnavailable": "unavailable",
    "connect_redis": "redis_client",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = ["DEFAULT_URL", *_HOMES]
