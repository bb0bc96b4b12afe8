"""Connecting to Redis with an error a user can act on, never a traceback."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.exceptions import RedisError


class RedisUnavailable(Exception):
    """Redis did not answer; the message names the (password-free) URL and the fix. A
    conversation that cannot start for it ends as ``redis_unavailable``."""

    category = "redis_unavailable"
    peer = "Redis"


def safe_url(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def connect_redis(url: str) -> redis.Redis:
    """A connected client; RedisUnavailable when nothing answers at ``url``."""
    client = redis.from_url(url, decode_responses=True)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise RedisUnavailable(
            f"cannot reach Redis at {safe_url(url)} ({type(exc).__name__}: {exc}); start one "
            "with `redis-server --port 6379` or pass --redis-url"
        ) from None
    return client
