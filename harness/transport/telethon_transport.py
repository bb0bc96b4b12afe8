"""The telethon transport: real Telegram user accounts talking to the bot under test.

Each account is leased exclusively from the pool (an auth key used from two places at
once is killed by Telegram), gets one TelegramClient, connected once and reused by the
conversations that follow, and resolves the bot once. A conversation checks an account
out for its whole length: one account is one chat with the bot.

Replies are taken by the harness's own ``events.NewMessage`` handler, filtered by the
bot's numeric id and stamped at handler entry. Flood control is the harness's, not
Telethon's (``flood_sleep_threshold=0``): a FLOOD_WAIT ends the conversation as a
``FloodWait`` carrying the seconds asked, and the account rests exactly that long. A
PEER_FLOOD retires the account for the run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass

from telethon import TelegramClient, errors, events
from telethon.sessions import StringSession

from harness.clock import Clock
from harness.coord import AccountStore, Lease, LeasePool, keep_lease
from harness.scenario.models import Scenario
from harness.transport.base import Inbox, SentMessage, TransportError

log = logging.getLogger("chatstorm")
LEASE_TTL_S = 30.0
CHECKOUT_POLL_S = 0.5
CATCH_UP_MESSAGES = 20  # how far back a window's catch-up looks


class FloodWait(TransportError):
    """Telegram asked this account to wait; the conversation stops, the account rests."""

    category = "flood_wait"

    def __init__(self, seconds: int) -> None:
        super().__init__(f"flood wait of {seconds} s asked by Telegram")
        self.seconds = seconds


class AccountRetired(TransportError):
    """Telegram refused this account (PEER_FLOOD, banned, deactivated): retired for the run."""

    category = "account_retired"


@dataclass
class _Account:
    lease: Lease
    client: TelegramClient
    bot_id: int
    bot: object
    keeper: asyncio.Task
    session: TelethonSession | None = None
    rested_until: float = 0.0


class TelethonSession:
    """A conversation on one checked-out account."""

    def __init__(self, transport: TelethonTransport, account: _Account) -> None:
        self.inbox = Inbox()
        self._transport = transport
        self._account = account
        self.seen: set[int] = set()
        self._first_id: int | None = None  # this conversation's first message to the bot

    def receive(self, message_id: int, text: str, recovered: bool = False) -> None:
        """A message from the bot, delivered once however it arrived."""
        if message_id in self.seen or (self._first_id is not None and message_id < self._first_id):
            return
        self.seen.add(message_id)
        self.inbox.deliver(text, message_id, recovered)

    async def catch_up(self) -> None:
        """Read the chat's latest messages: a bot message whose push was lost is there."""
        account = self._account
        if self._first_id is None:
            return
        latest = await account.client.get_messages(account.bot, limit=CATCH_UP_MESSAGES)
        for message in reversed(latest):
            if not message.out and message.id > self._first_id:
                self.receive(message.id, message.raw_text, recovered=True)

    async def send(self, text: str) -> SentMessage:
        account = self._account
        t_call = Clock.now()
        try:
            message = await account.client.send_message(account.bot, text)
        except errors.FloodWaitError as exc:
            account.rested_until = time.monotonic() + exc.seconds
            await self._transport.accounts.record_flood(account.lease.account_id, exc.seconds)
            raise FloodWait(exc.seconds) from None
        except (
            errors.PeerFloodError,
            errors.UserDeactivatedError,
            errors.UserDeactivatedBanError,
            errors.AuthKeyUnregisteredError,
        ) as exc:
            reason = type(exc).__name__
            await self._transport.retire(account, reason)
            raise AccountRetired(f"account {account.lease.account_id} retired: {reason}") from None
        if self._first_id is None:
            self._first_id = message.id
        return SentMessage(text, t_call, Clock.now(), message.id)

    async def close(self) -> None:
        self._transport.check_in(self._account)


class TelethonTransport:
    name = "telethon"

    def __init__(
        self,
        *,
        bot: str,
        api_id: int,
        api_hash: str,
        accounts: AccountStore,
        leases: LeasePool,
        holder: str,
        lease_ttl_s: float = LEASE_TTL_S,
    ) -> None:
        self.accounts = accounts
        self._leases = leases
        self._bot = bot
        self._api_id = api_id
        self._api_hash = api_hash
        self._holder = holder
        self._ttl = lease_ttl_s
        self._idle: list[_Account] = []
        self._all: list[_Account] = []
        self._waiting: Counter[str] = Counter()
        self._warned_waiting = False

    def status(self) -> dict:
        return {
            "accounts_connected": len(self._all),
            "accounts_idle": len(self._idle),
            "waiting_for_account": {k: n for k, n in self._waiting.items() if n},
        }

    async def open(self, conversation_id: str, scenario: Scenario) -> TelethonSession:
        self._waiting[scenario.name] += 1
        try:
            account = await self._checkout()
        finally:
            self._waiting[scenario.name] -= 1
        session = TelethonSession(self, account)
        account.session = session
        return session

    async def _checkout(self) -> _Account:
        """An idle, rested account of this process, or a newly leased one; waits when the
        pool has none free."""
        while True:
            now = time.monotonic()
            for account in self._idle:
                if account.rested_until <= now:
                    self._idle.remove(account)
                    return account
            lease = await self._leases.acquire(self._holder, self._ttl)
            if lease is not None:
                return await self._connect(lease)
            if not self._warned_waiting:
                self._warned_waiting = True
                log.warning(
                    "chatstorm: users wait for a free Telegram account: all %d leased "
                    "here are busy and the pool has none free; add accounts "
                    "(harness accounts import) or run fewer users",
                    len(self._all),
                )
            await asyncio.sleep(CHECKOUT_POLL_S)

    async def _connect(self, lease: Lease) -> _Account:
        session = await self.accounts.session_of(lease.account_id)
        client = TelegramClient(
            StringSession(session),
            self._api_id,
            self._api_hash,
            flood_sleep_threshold=0,
            raise_last_call_error=True,
        )
        try:
            await client.connect()
            bot = await client.get_input_entity(self._bot)
        except Exception:
            await client.disconnect()
            await self._leases.release(lease)
            raise
        keeper = asyncio.create_task(keep_lease(self._leases, lease, self._ttl, self._lost))
        account = _Account(lease, client, getattr(bot, "user_id", 0), bot, keeper)
        client.add_event_handler(
            lambda event: self._on_message(account, event), events.NewMessage(incoming=True)
        )
        client.add_event_handler(
            lambda event: self._on_edit(account, event), events.MessageEdited(incoming=True)
        )
        self._all.append(account)
        return account

    async def _on_message(self, account: _Account, event) -> None:
        if event.chat_id == account.bot_id and account.session is not None:
            account.session.receive(event.id, event.raw_text)

    async def _on_edit(self, account: _Account, event) -> None:
        session = account.session
        if event.chat_id == account.bot_id and session is not None and event.id in session.seen:
            session.inbox.deliver(event.raw_text, event.id, edit=True)

    async def _lost(self, lease: Lease) -> None:
        """The lease expired under us: stop using the account before someone else does."""
        for account in [a for a in self._all if a.lease == lease]:
            await self._drop(account)

    def check_in(self, account: _Account) -> None:
        account.session = None
        if account in self._all:
            self._idle.append(account)

    async def retire(self, account: _Account, reason: str) -> None:
        await self.accounts.retire(account.lease.account_id, reason)
        await self._drop(account)

    async def _drop(self, account: _Account) -> None:
        if account in self._all:
            self._all.remove(account)
        if account in self._idle:
            self._idle.remove(account)
        if account.keeper is not asyncio.current_task():  # _lost runs inside the keeper
            account.keeper.cancel()
        await account.client.disconnect()
        await self._leases.release(account.lease)

    async def close(self) -> None:
        for account in list(self._all):
            await self._drop(account)
