"""Which transport a run uses, with everything it needs, checked before the run starts."""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.agent.reference import BatchRecord
from harness.botapi.protocol import CHAT_TYPES, TOKEN
from harness.clock import Clock
from harness.transport.base import Transport

# Each transport's module, imported when a run names it (Telethon, aiohttp and Redis
# load only with theirs). Under Locust, ``import_transport`` runs in the main thread
# before the loop thread starts: gevent's process machinery, which Telethon's first
# import sets off, cannot start in the loop thread.
TRANSPORT_MODULES = {
    "mock": "harness.transport.mock",
    "telethon": "harness.transport.telethon_transport",
    "botapi": "harness.transport.botapi_transport",
}
TRANSPORTS = tuple(TRANSPORT_MODULES)
DEFAULT_BOTAPI_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True)
class TransportSettings:
    name: str = "mock"
    seed: str = "0"
    bot: str | None = None
    api_id: int | None = None
    api_hash: str | None = field(default=None, repr=False)  # a secret: never shown
    accounts_file: Path | None = None
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    redis_prefix: str = "chatstorm"
    botapi_url: str | None = None
    bot_token: str | None = field(default=None, repr=False)  # a secret: never shown
    botapi_serve: bool = False
    botapi_chat: str = "private"

    @property
    def emulator_url(self) -> str:
        return (self.botapi_url or DEFAULT_BOTAPI_URL).rstrip("/")

    def problems(self) -> list[str]:
        """What is missing for this transport, each with the option that fixes it."""
        if self.name not in TRANSPORTS:
            return [f"unknown transport {self.name!r}: choose one of {', '.join(TRANSPORTS)}"]
        if self.name == "botapi":
            return self._botapi_problems()
        if self.name != "telethon":
            return []
        problems = []
        if not self.bot:
            problems.append("--transport telethon needs --bot @username (or a numeric id)")
        if self.api_id is None or not self.api_hash:
            problems.append(
                "--transport telethon needs --api-id and --api-hash (or TG_API_ID and TG_API_HASH)"
            )
        if self.accounts_file is None and self.redis_url is None:
            problems.append(
                "--transport telethon needs accounts: --accounts-file PATH or "
                "--redis-url with a pool (see `harness accounts`)"
            )
        return problems

    def _botapi_problems(self) -> list[str]:
        problems = []
        if not self.bot_token:
            problems.append(
                "--transport botapi needs the bot's token: --bot-token TOKEN "
                "(or CHATSTORM_BOT_TOKEN)"
            )
        elif not TOKEN.fullmatch(self.bot_token):
            problems.append(
                "--bot-token is not a bot token: expected <bot id>:<secret>, as BotFather gives it"
            )
        if self.botapi_url is None and not self.botapi_serve:
            problems.append(
                "--transport botapi needs --botapi-url URL (where `harness botapi serve` "
                "listens) or --botapi-serve to start the emulator in Locust"
            )
        elif not self.emulator_url.startswith(("http://", "https://")):
            problems.append(
                f"--botapi-url must start with http:// or https://, got {self.emulator_url}"
            )
        if self.botapi_chat not in CHAT_TYPES:
            problems.append(f"--botapi-chat must be one of {', '.join(CHAT_TYPES)}")
        return problems


def import_transport(name: str) -> None:
    """Load the transport's module (and its libraries) now, in this thread."""
    importlib.import_module(TRANSPORT_MODULES[name])


async def open_transport(
    settings: TransportSettings,
    clock: Clock,
    on_batch: Callable[[str, BatchRecord], object] | None = None,
) -> Transport:
    """The transport ``settings`` describe, connected to what it needs (Redis, accounts)."""
    if settings.name == "mock":
        from harness.transport.mock import MockTransport

        return MockTransport(clock, settings.seed, on_batch)
    if settings.name == "botapi":
        from harness.transport.botapi_transport import BotApiTransport

        transport = BotApiTransport(
            settings.emulator_url, settings.bot_token or "", settings.botapi_chat
        )
        await transport.connect()
        return transport
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
    if settings.accounts_file is not None:
        for number, session in read_sessions_file(settings.accounts_file):
            try:
                await accounts.add(session)
            except ValueError as exc:
                raise ValueError(f"{settings.accounts_file}:{number}: {exc}") from None
    return TelethonTransport(
        bot=settings.bot or "",
        api_id=settings.api_id or 0,
        api_hash=settings.api_hash or "",
        accounts=accounts,
        leases=leases,
        holder=f"{socket.gethostname()}:{os.getpid()}",
    )
