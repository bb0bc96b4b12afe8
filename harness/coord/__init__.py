"""Coordination shared by every process of a run: Telegram accounts and their exclusive
leases, in Redis (``--redis-url``) or in memory for a single process."""

from harness.coord.accounts import (
    AccountInfo,
    AccountStore,
    MemoryAccounts,
    RedisAccounts,
    append_session,
    read_sessions_file,
)
from harness.coord.leases import Lease, LeasePool, MemoryLeases, RedisLeases, keep_lease
from harness.coord.redis_client import RedisUnavailable, connect_redis

__all__ = [
    "AccountInfo",
    "AccountStore",
    "Lease",
    "LeasePool",
    "MemoryAccounts",
    "MemoryLeases",
    "RedisAccounts",
    "RedisLeases",
    "RedisUnavailable",
    "append_session",
    "connect_redis",
    "keep_lease",
    "read_sessions_file",
]
