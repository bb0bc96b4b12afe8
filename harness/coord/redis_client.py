"""Connecting to Redis with an error a user can act on, never a traceback."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.exceptions import AuthenticationError, RedisError

from harness.coord.unavailable import RedisUnavailable

# A Redis that stops answering fails a call after this long instead of holding it: lease
# renewals ride out a TTL of failures, never one call that hangs.
SOCKET_TIMEOUT_S = 5.0


def safe_url(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def connect_redis(url: str) -> redis.Redis:
    """A connected client; RedisUnavailable when nothing answers at ``url`` or it
    refuses the URL's password (the message masks it)."""
    client = redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
    )
    try:
        await client.ping()
    except AuthenticationError as exc:
        await client.aclose()
        raise RedisUnavailable(
            f"Redis at {safe_url(url)} refused the credentials ({exc}); put its password in "
            "--redis-url (redis://:PASSWORD@HOST:PORT/DB)"
        ) from None
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise RedisUnavailable(
            f"cannot reach Redis at {safe_url(url)} ({type(exc).__name__}: {exc}); start one "
            "with `redis-server --port 6379` or pass --redis-url"
        ) from None
    return client
