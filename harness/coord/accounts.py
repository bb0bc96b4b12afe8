"""The pool of Telegram accounts: who they are, their state, their flood history.

A session string is a credential: it is stored, and handed to the transport through
``session_of``, but never returned by ``list`` and never part of an ``AccountInfo``.
An account's id is derived from its session (a short hash), so adding the same session
twice is harmless and the id reveals nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import orjson
import redis.asyncio as redis

from harness.coord.sessions import check_session

State = Literal["active", "retired"]
FLOOD_HISTORY = 20


@dataclass(frozen=True)
class AccountInfo:
    """What may be shown about an account (never its session)."""

    account_id: str
    phone_tail: str
    label: str
    state: State
    added_at: float
    retired_reason: str = ""
    floods: tuple[tuple[float, int], ...] = field(default=())


def account_id_of(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()[:12]


def phone_tail(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"…{digits[-4:]}" if digits else ""


class AccountStore(Protocol):
    async def add(self, session: str, phone: str | None = None, label: str = "") -> AccountInfo: ...

    async def remove(self, account_id: str) -> bool: ...

    async def list(self) -> list[AccountInfo]: ...

    async def active_ids(self) -> list[str]: ...

    async def session_of(self, account_id: str) -> str: ...

    async def retire(self, account_id: str, reason: str) -> None: ...

    async def record_flood(self, account_id: str, seconds: int) -> None: ...


def _new_record(session: str, phone: str | None, label: str) -> tuple[str, dict]:
    """(account id, stored record) for a new account; ValueError for a non-session."""
    session = check_session(session)
    record = {
        "session": session,
        "phone_tail": phone_tail(phone),
        "label": label,
        "state": "active",
        "added_at": time.time(),
        "retired_reason": "",
    }
    return account_id_of(session), record


class RedisAccounts:
    """Accounts in a Redis hash ``{prefix}:accounts``, flood history in capped lists."""

    def __init__(self, client: redis.Redis, prefix: str = "chatstorm") -> None:
        self._redis = client
        self._key = f"{prefix}:accounts"
        self._floods = f"{prefix}:floods"

    async def add(self, session: str, phone: str | None = None, label: str = "") -> AccountInfo:
        account_id, record = _new_record(session, phone, label)
        await self._redis.hset(self._key, account_id, orjson.dumps(record).decode())
        return _info(account_id, record, ())

    async def remove(self, account_id: str) -> bool:
        removed = await self._redis.hdel(self._key, account_id)
        await self._redis.delete(f"{self._floods}:{account_id}")
        return bool(removed)

    async def list(self) -> list[AccountInfo]:
        records = await self._redis.hgetall(self._key)
        infos = []
        for account_id, raw in sorted(records.items()):
            floods = await self._redis.lrange(f"{self._floods}:{account_id}", 0, -1)
            history = tuple(tuple(orjson.loads(f)) for f in floods)
            infos.append(_info(account_id, orjson.loads(raw), history))
        return infos

    async def active_ids(self) -> list[str]:
        records = await self._redis.hgetall(self._key)
        return [i for i, raw in records.items() if orjson.loads(raw)["state"] == "active"]

    async def session_of(self, account_id: str) -> str:
        raw = await self._redis.hget(self._key, account_id)
        if raw is None:
            raise KeyError(f"no account {account_id} in the pool")
        return orjson.loads(raw)["session"]

    async def retire(self, account_id: str, reason: str) -> None:
        raw = await self._redis.hget(self._key, account_id)
        if raw is not None:
            record = {**orjson.loads(raw), "state": "retired", "retired_reason": reason}
            await self._redis.hset(self._key, account_id, orjson.dumps(record).decode())

    async def record_flood(self, account_id: str, seconds: int) -> None:
        key = f"{self._floods}:{account_id}"
        await self._redis.lpush(key, orjson.dumps([time.time(), seconds]).decode())
        await self._redis.ltrim(key, 0, FLOOD_HISTORY - 1)


class MemoryAccounts:
    """The same pool for a single process without Redis."""

    def __init__(self) -> None:
        self._records: dict[str, dict] = {}
        self._floods: dict[str, list[tuple[float, int]]] = {}

    async def add(self, session: str, phone: str | None = None, label: str = "") -> AccountInfo:
        account_id, record = _new_record(session, phone, label)
        self._records[account_id] = record
        return _info(account_id, record, ())

    async def remove(self, account_id: str) -> bool:
        self._floods.pop(account_id, None)
        return self._records.pop(account_id, None) is not None

    async def list(self) -> list[AccountInfo]:
        return [
            _info(i, r, tuple(self._floods.get(i, ()))) for i, r in sorted(self._records.items())
        ]

    async def active_ids(self) -> list[str]:
        return [i for i, r in self._records.items() if r["state"] == "active"]

    async def session_of(self, account_id: str) -> str:
        if account_id not in self._records:
            raise KeyError(f"no account {account_id} in the pool")
        return self._records[account_id]["session"]

    async def retire(self, account_id: str, reason: str) -> None:
        if account_id in self._records:
            self._records[account_id].update(state="retired", retired_reason=reason)

    async def record_flood(self, account_id: str, seconds: int) -> None:
        history = self._floods.setdefault(account_id, [])
        history.insert(0, (time.time(), seconds))
        del history[FLOOD_HISTORY:]


def _info(account_id: str, record: dict, floods: tuple) -> AccountInfo:
    return AccountInfo(
        account_id,
        record["phone_tail"],
        record["label"],
        record["state"],
        record["added_at"],
        record["retired_reason"],
        floods,
    )


def append_session(path: Path, session: str) -> bool:
    """Append one session to an accounts file, creating it readable by its owner only
    (0600). Returns True when an existing file was open to others and was tightened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        tightened = bool(os.fstat(descriptor).st_mode & 0o077)
        if tightened:
            os.fchmod(descriptor, 0o600)
        os.write(descriptor, (session.strip() + "\n").encode())
    finally:
        os.close(descriptor)
    return tightened
