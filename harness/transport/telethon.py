"""The telethon transport's kind: real Telegram user accounts talk to the real bot. The
transport itself (and Telethon, and Redis for a shared pool) is in
``telethon_transport``, imported when a run opens it."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.coord.sessions import sessions_file
from harness.options import Option, OptionGroup, positive_float, telegram_api_id
from harness.transport.base import Transport
from harness.transport.kind import OpenContext, TransportKind


@dataclass(frozen=True)
class TelethonSettings:
    bot: str | None = None
    api_id: int | None = None
    api_hash: str | None = field(default=None, repr=False)  # a secret: never shown
    accounts_file: Path | None = None
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    redis_prefix: str = "chatstorm"
    lease_ttl_s: float = 30.0


class TelethonKind(TransportKind[TelethonSettings]):
    name = "telethon"
    implementation = "harness.transport.telethon_transport"
    options = OptionGroup(
        "chatstorm over Telegram",
        "With --transport telethon: real accounts, the real bot.",
        (
            Option("--bot", "The bot under test: @username or numeric id.", env="LOCUST_BOT"),
            Option(
                "--api-id",
                "Telegram API id (my.telegram.org).",
                parse=telegram_api_id,
                env="TG_API_ID",
            ),
            Option(
                "--api-hash", "Telegram API hash (never logged or reported).", env="TG_API_HASH"
            ),
            Option(
                "--accounts-file",
                "One Telethon StringSession per line (# comments allowed).",
                parse=sessions_file,
                metavar="PATH",
            ),
            Option(
                "--lease-ttl",
                "Seconds an account's lease lives unless renewed: a worker that dies frees "
                "its accounts after this long (default 30).",
                default=30.0,
                parse=positive_float,
                metavar="SECONDS",
                env="CHATSTORM_LEASE_TTL",
            ),
        ),
    )

    def settings(self, values: Mapping[str, Any]) -> TelethonSettings:
        accounts_file = values.get("accounts_file")
        return TelethonSettings(
            bot=values.get("bot"),
            api_id=values.get("api_id"),
            api_hash=values.get("api_hash"),
            accounts_file=Path(accounts_file) if accounts_file else None,
            redis_url=values.get("redis_url"),
            redis_prefix=values.get("redis_prefix") or "chatstorm",
            lease_ttl_s=values.get("lease_ttl") or 30.0,
        )

    def problems(self, settings: TelethonSettings) -> list[str]:
        problems = []
        if not settings.bot:
            problems.append("--transport telethon needs --bot @username (or a numeric id)")
        if settings.api_id is None or not settings.api_hash:
            problems.append(
                "--transport telethon needs --api-id and --api-hash (or TG_API_ID and TG_API_HASH)"
            )
        if settings.accounts_file is None and settings.redis_url is None:
            problems.append(
                "--transport telethon needs accounts: --accounts-file PATH or "
                "--redis-url with a pool (see `harness accounts`)"
            )
        return problems

    async def open(self, settings: TelethonSettings, context: OpenContext) -> Transport:
        from harness.coord import (
            MemoryAccounts,
            MemoryLeases,
            RedisAccounts,
            RedisLeases,
            connect_redis,
            read_sessions_file,
        )
        from harness.transport.telethon_transport import TelethonTransport

        if settings.redis_url is not None:
            client = await connect_redis(settings.redis_url)
            accounts = RedisAccounts(client, settings.redis_prefix)
            leases = RedisLeases(client, accounts, settings.redis_prefix)
        else:
            accounts = MemoryAccounts()
            leases = MemoryLeases(accounts)
        sessions = []
        if settings.accounts_file is not None:
            for number, session in read_sessions_file(settings.accounts_file):
                try:
                    await accounts.add(session)
                except ValueError as exc:
                    raise ValueError(f"{settings.accounts_file}:{number}: {exc}") from None
                sessions.append(session)
        return TelethonTransport(
            bot=settings.bot or "",
            api_id=settings.api_id or 0,
            api_hash=settings.api_hash or "",
            accounts=accounts,
            leases=leases,
            holder=f"{context.run_id}/{socket.gethostname()}:{os.getpid()}",
            lease_ttl_s=settings.lease_ttl_s,
            reseed=sessions if settings.redis_url is not None else [],
        )


TELETHON = TelethonKind()
