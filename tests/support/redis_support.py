"""The suite's Redis: REDIS_URL, or 127.0.0.1:6379. Tests use a key prefix of their own and
delete it afterwards; when no Redis answers they fail with how to start one, never skip."""

from __future__ import annotations

import os
import uuid

import pytest
import redis.asyncio as redis

from harness.coord import DEFAULT_URL, RedisUnavailable, connect_redis

REDIS_URL = os.environ.get("REDIS_URL", DEFAULT_URL)


async def redis_or_fail() -> redis.Redis:
    try:
        return await connect_redis(REDIS_URL)
    except RedisUnavailable as exc:
        pytest.fail(str(exc))


def new_prefix() -> str:
    return f"chatstorm-test-{uuid.uuid4().hex[:8]}"


async def delete_prefix(prefix: str) -> None:
    client = await redis_or_fail()
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
