"""Account pool and leases, against a real Redis server and in memory.

Redis is taken from REDIS_URL (default redis://127.0.0.1:6379/0); every test uses its
own key prefix and deletes it afterwards. When no Redis answers the tests fail with the
command that starts one: they never skip.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.coord import (
    MemoryAccounts,
    MemoryLeases,
    RedisAccounts,
    RedisLeases,
    RedisUnavailable,
    connect_redis,
    keep_lease,
)
from harness.coord.redis_client import safe_url
from tests.support.redis_support import REDIS_URL, new_prefix, redis_or_fail

SESSIONS = [f"1Aa{'x' * 40}{i:04d}==" for i in range(10)]


class Backend:
    """One pool (accounts + leases) on Redis or in memory; ``second()`` is another worker."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.prefix = new_prefix()
        self.clients: list = []

    async def pool(self):
        if self.kind == "memory":
            if not hasattr(self, "_memory"):
                self._memory = MemoryAccounts()
                self._memory_leases = MemoryLeases(self._memory)
            return self._memory, self._memory_leases
        client = await redis_or_fail()
        self.clients.append(client)
        accounts = RedisAccounts(client, self.prefix)
        return accounts, RedisLeases(client, accounts, self.prefix)

    async def close(self) -> None:
        if self.clients:
            client = self.clients[0]
            keys = [key async for key in client.scan_iter(match=f"{self.prefix}:*")]
            if keys:
                await client.delete(*keys)
        for client in self.clients:
            await client.aclose()


@pytest.fixture(params=["redis", "memory"])
async def backend(request):
    backend = Backend(request.param)
    yield backend
    await backend.close()


async def filled(backend: Backend, count: int = 10):
    accounts, leases = await backend.pool()
    for session in SESSIONS[:count]:
        await accounts.add(session, phone=f"+7 900 000 {session[-6:-2]}")
    return accounts, leases


async def test_two_workers_never_hold_the_same_account(backend):
    _, first = await filled(backend)
    _, second = await backend.pool()  # another worker, its own connection
    attempts = [pool.acquire(f"worker-{i % 2}", 5.0) for i, pool in enumerate([first, second] * 20)]
    leases = [lease for lease in await asyncio.gather(*attempts) if lease is not None]
    assert len(leases) == 10  # every account, once
    assert len({lease.account_id for lease in leases}) == 10


async def test_an_unrenewed_lease_comes_back_after_its_ttl_with_a_higher_token(backend):
    _accounts, leases = await filled(backend, count=1)
    first = await leases.acquire("crashed", 0.3)
    assert first is not None and await leases.acquire("other", 0.3) is None
    started = time.monotonic()
    second = None
    while second is None and time.monotonic() - started < 3:
        second = await leases.acquire("other", 5.0)
        await asyncio.sleep(0.02)
    assert second is not None and time.monotonic() - started >= 0.25
    assert second.account_id == first.account_id and second.token > first.token
    assert await leases.holder_of(first.account_id) == "other"


async def test_a_stale_holder_is_fenced_out(backend):
    _, leases = await filled(backend, count=1)
    stale = await leases.acquire("stalled", 0.1)
    await asyncio.sleep(0.15)
    fresh = await leases.acquire("fresh", 5.0)
    assert fresh is not None
    assert not await leases.renew(stale, 5.0)
    await leases.release(stale)  # must not free the fresh holder's lease
    assert not await leases.is_valid(stale)
    assert await leases.is_valid(fresh)
    assert await leases.holder_of(fresh.account_id) == "fresh"


async def test_keep_lease_holds_it_until_stopped(backend):
    _, leases = await filled(backend, count=1)
    lease = await leases.acquire("keeper", 0.2)
    lost: list = []

    async def on_lost(which):
        lost.append(which)

    keeper = asyncio.create_task(keep_lease(leases, lease, 0.2, on_lost))
    await asyncio.sleep(0.7)  # more than three TTLs
    assert await leases.is_valid(lease) and not lost
    keeper.cancel()
    await asyncio.sleep(0.3)
    assert not await leases.is_valid(lease)


async def test_retired_accounts_are_not_leased_and_listing_never_shows_sessions(backend):
    accounts, leases = await filled(backend, count=2)
    infos = await accounts.list()
    await accounts.retire(infos[0].account_id, "PeerFloodError")
    await accounts.record_flood(infos[1].account_id, 42)
    lease = await leases.acquire("w", 5.0)
    assert lease.account_id == infos[1].account_id
    assert await leases.acquire("w", 5.0) is None
    listed = {info.account_id: info for info in await accounts.list()}
    assert listed[infos[0].account_id].state == "retired"
    assert listed[infos[0].account_id].retired_reason == "PeerFloodError"
    assert [seconds for _, seconds in listed[infos[1].account_id].floods] == [42]
    assert all(info.phone_tail.startswith("…") for info in listed.values())
    shown = repr(await accounts.list())
    assert not any(session in shown for session in SESSIONS)
    assert await accounts.session_of(lease.account_id) in SESSIONS


async def test_a_killed_workers_leases_return_within_the_ttl():
    backend = Backend("redis")
    try:
        _accounts, leases = await filled(backend, count=3)
        script = textwrap.dedent(f"""
            import asyncio, sys
            from harness.coord import RedisAccounts, RedisLeases, connect_redis, keep_lease
            async def main():
                client = await connect_redis({REDIS_URL!r})
                accounts = RedisAccounts(client, {backend.prefix!r})
                leases = RedisLeases(client, accounts, {backend.prefix!r})
                held = [await leases.acquire("doomed", 1.0) for _ in range(3)]
                async def lost(lease): pass
                for lease in held:
                    asyncio.create_task(keep_lease(leases, lease, 1.0, lost))
                print("held", flush=True)
                await asyncio.sleep(3600)
            asyncio.run(main())
        """)
        worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert worker.stdout.readline().strip() == "held"
            await asyncio.sleep(1.5)  # beyond one TTL: the keeper holds them
            assert await leases.acquire("survivor", 5.0) is None
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        killed_at = time.monotonic()
        regained = []
        while len(regained) < 3 and time.monotonic() - killed_at < 3:
            lease = await leases.acquire("survivor", 5.0)
            if lease is not None:
                regained.append(lease)
            else:
                await asyncio.sleep(0.05)
        assert len(regained) == 3
        assert time.monotonic() - killed_at < 1.0 + 0.5  # the TTL, plus polling slack
    finally:
        await backend.close()


async def test_an_unreachable_redis_is_a_one_line_error_without_the_password():
    with pytest.raises(RedisUnavailable) as caught:
        await connect_redis("redis://user:hunter2@127.0.0.1:1/0")
    message = str(caught.value)
    assert "redis://user:***@127.0.0.1:1/0" in message and "hunter2" not in message
    assert "start one with `redis-server --port 6379` or pass --redis-url" in message
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
