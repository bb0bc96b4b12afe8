"""The suite's Redis: REDIS_URL, or 127.0.0.1:6379. Tests use a key prefix of their own and
delete it afterwards; when no Redis answers they fail with how to start one, never skip."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import redis.asyncio as redis

from harness.coord import DEFAULT_URL, RedisUnavailable, connect_redis
from tests.support.locust_runs import free_port, wait_for

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


@contextlib.contextmanager
def private_redis(*args: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """A redis-server of the test's own on a free port of 127.0.0.1, with ``args`` (such
    as ``--requirepass``), no persistence, once it listens: its port, and its process (to
    kill it mid-run). Stopped by its pid on the way out."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail(
            "this test runs a Redis of its own: install redis-server (apt-get install redis)"
        )
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *args],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, 10, "redis-server")
        assert process.poll() is None, "the private redis-server did not start"
        yield port, process
    finally:
        process.kill()
        process.wait()


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False
