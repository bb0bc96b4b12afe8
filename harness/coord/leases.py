"""Exclusive, expiring, fenced leases on accounts: one client per account, anywhere.

Telegram kills a session whose auth key is used from two places at once
(AUTH_KEY_DUPLICATED), so an account is leased by exactly one holder at a time:

- exclusive: taking a lease is one atomic step (a Lua script in Redis);
- expiring: a lease lives ``ttl_s`` unless its holder renews it (``keep_lease`` does, every
  third of the TTL), so a crashed worker's accounts come back by themselves;
- fenced: every lease carries a token that grows each time the account is leased, and
  renewing, releasing or validating checks the token. A holder that stalled past its
  TTL finds its lease gone and cannot touch the new holder's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from harness.coord.accounts import AccountStore
from harness.outages import OUTAGES


@dataclass(frozen=True)
class Lease:
    account_id: str
    holder: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.holder}|{self.token}"


class LeasePool(Protocol):
    async def acquire(self, holder: str, ttl_s: float) -> Lease | None:
        """A lease on a free active account, or None when every account is taken."""
        ...

    async def renew(self, lease: Lease, ttl_s: float) -> bool:
        """Extend the lease; False when it was lost (expired, taken over)."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give the account back (a lost lease is left alone)."""
        ...

    async def is_valid(self, lease: Lease) -> bool: ...

    async def holder_of(self, account_id: str) -> str | None: ...


_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeases:
    """Leases shared by every worker through Redis."""

    def __init__(self, client: redis.Redis, accounts: AccountStore, prefix: str = "chatstorm"):
        self._redis = client
        self._accounts = accounts
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _keys(self, account_id: str) -> list[str]:
        return [f"{self._prefix}:lease:{account_id}", f"{self._prefix}:fence:{account_id}"]

    async def acquire(self, holder: str, ttl_s: float) -> Lease | None:
        candidates = await self._accounts.active_ids()
        random.shuffle(candidates)  # spread workers over the pool instead of racing for one
        for account_id in candidates:
            token = await self._acquire(keys=self._keys(account_id), args=[holder, _ms(ttl_s)])
            if token:
                return Lease(account_id, holder, int(token))
        return None

    async def renew(self, lease: Lease, ttl_s: float) -> bool:
        key = self._keys(lease.account_id)[:1]
        return bool(await self._renew(keys=key, args=[lease.value, _ms(ttl_s)]))

    async def release(self, lease: Lease) -> None:
        await self._release(keys=self._keys(lease.account_id)[:1], args=[lease.value])

    async def is_valid(self, lease: Lease) -> bool:
        return await self._redis.get(self._keys(lease.account_id)[0]) == lease.value

    async def holder_of(self, account_id: str) -> str | None:
        value = await self._redis.get(self._keys(account_id)[0])
        return None if value is None else value.rsplit("|", 1)[0]


class MemoryLeases:
    """The same leases inside one process (no --redis-url)."""

    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts
        self._held: dict[str, tuple[str, float]] = {}
        self._fences: dict[str, int] = {}

    def _current(self, account_id: str) -> str | None:
        held = self._held.get(account_id)
        if held is None or held[1] <= time.monotonic():
            self._held.pop(account_id, None)
            return None
        return held[0]

    async def acquire(self, holder: str, ttl_s: float) -> Lease | None:
        candidates = await self._accounts.active_ids()
        random.shuffle(candidates)
        for account_id in candidates:
            if self._current(account_id) is None:
                token = self._fences[account_id] = self._fences.get(account_id, 0) + 1
                lease = Lease(account_id, holder, token)
                self._held[account_id] = (lease.value, time.monotonic() + ttl_s)
                return lease
        return None

    async def renew(self, lease: Lease, ttl_s: float) -> bool:
        if self._current(lease.account_id) != lease.value:
            return False
        self._held[lease.account_id] = (lease.value, time.monotonic() + ttl_s)
        return True

    async def release(self, lease: Lease) -> None:
        if self._current(lease.account_id) == lease.value:
            del self._held[lease.account_id]

    async def is_valid(self, lease: Lease) -> bool:
        return self._current(lease.account_id) == lease.value

    async def holder_of(self, account_id: str) -> str | None:
        value = self._current(account_id)
        return None if value is None else value.rsplit("|", 1)[0]


async def keep_lease(
    pool: LeasePool, lease: Lease, ttl_s: float, on_lost: Callable[[Lease], Awaitable[None]]
) -> None:
    """Renew ``lease`` every third of its TTL until cancelled; call ``on_lost`` if it goes.
    A Redis that does not answer is asked again until a whole TTL has passed since the
    last renewal: by then the lease may have expired, so the account is given up."""
    renewed = time.monotonic()
    while True:
        await asyncio.sleep(ttl_s / 3)
        try:
            kept = await pool.renew(lease, ttl_s)
        except (RedisError, OSError) as exc:
            OUTAGES.down("Redis", f"renewing an account lease failed ({type(exc).__name__})")
            if time.monotonic() - renewed < ttl_s:
                continue
            kept = False
        if not kept:
            await on_lost(lease)
            return
        renewed = time.monotonic()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
