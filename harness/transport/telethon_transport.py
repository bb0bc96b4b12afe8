"""The telethon transport: real Telegram user accounts talking to the bot under test.

Each account is leased exclusively from the pool (an auth key used from two places at
once is killed by Telegram), gets one TelegramClient, connected once and reused by the
conversations that follow, and resolves the bot once. A conversation checks an account
out for its whole length: one account is one chat with the bot.

Replies are taken by the harness's own ``events.NewMessage`` handler, filtered by the
bot's numeric id and stamped at handler entry. Flood control is the harness's, not
Telethon's (``flood_sleep_threshold=0``): a FLOOD_WAIT (or a SLOWMODE_WAIT) ends the
conversation with the seconds asked, and the account rests exactly that long. A
PEER_FLOOD or a banned account is retired; an account the bot blocked (or that blocked the
bot) is set aside for the run.

Reconnection is the harness's too: Telethon's own retries at a fixed pace, so it is off,
and a lost connection is reconnected here with exponential backoff and jitter. Sends and
catch-ups wait for it; a conversation whose turn spans a reconnect goes on, and the
session counts the reconnect so the turn is marked (its timing is the network's, not the
agent's). When the backoff budget runs out, the account is dropped and its conversation
ends as ``disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError
from telethon import TelegramClient, errors, events
from telethon.sessions import StringSession

from harness.clock import Clock
from harness.coord import AccountStore, Lease, LeasePool, RedisUnavailable, keep_lease
from harness.outages import OUTAGES, jittered_backoff
from harness.scenario.models import Scenario
from harness.transport.base import Inbox, SentMessage, TransportError

log = logging.getLogger("chatstorm")
LEASE_TTL_S = 30.0
CHECKOUT_POLL_S = 0.5
CATCH_UP_MESSAGES = 20  # how far back a window's catch-up looks
RECONNECT_FIRST_S = 0.5  # the first backoff; each next one doubles, with jitter
RECONNECT_MAX_S = 30.0  # the longest single backoff
RECONNECT_BUDGET_S = 120.0  # how long an account may stay offline before it is dropped
CONNECT_TIMEOUT_S = 10.0  # a new connection and the bot's lookup, answered or given up
PEER = "Telegram"
T = TypeVar("T")


class FloodWait(TransportError):
    """Telegram asked this account to wait; the conversation stops, the account rests."""

    category = "flood_wait"

    def __init__(self, seconds: int) -> None:
        super().__init__(f"flood wait of {seconds} s asked by Telegram")
        self.seconds = seconds


class SlowMode(TransportError):
    """The chat is in slow mode: the conversation stops, the account rests the seconds asked."""

    category = "slow_mode"

    def __init__(self, seconds: int) -> None:
        super().__init__(f"slow mode: Telegram asked to wait {seconds} s between messages")
        self.seconds = seconds


class AccountRetired(TransportError):
    """Telegram refused this account (PEER_FLOOD, banned, deactivated): retired for the run."""

    category = "account_retired"


class BotBlockedUser(TransportError):
    """The bot under test blocked this account (USER_IS_BLOCKED): it is set aside."""

    category = "bot_blocked_user"


class UserBlockedBot(TransportError):
    """This account blocked the bot (YOU_BLOCKED_USER): it is set aside."""

    category = "user_blocked_bot"


class Disconnected(TransportError):
    """The account's connection was lost and did not come back within the backoff budget,
    or a new one got no answer within CONNECT_TIMEOUT_S (an outage of Telegram); or the
    account left the run for another reason (its lease was lost, the run ended)."""

    category = "disconnected"

    def __init__(self, message: str, outage: bool = True) -> None:
        super().__init__(message)
        self.peer = PEER if outage else None


_RETIRING = (
    errors.PeerFloodError,
    errors.UserDeactivatedError,
    errors.UserDeactivatedBanError,
    errors.AuthKeyUnregisteredError,
)
_SETTING_ASIDE = {
    errors.UserIsBlockedError: (
        BotBlockedUser,
        "the bot blocked this account; unblock it from the bot's side or remove the account",
    ),
    errors.YouBlockedUserError: (
        UserBlockedBot,
        "this account blocked the bot; unblock the bot in the account's Telegram app",
    ),
}


# What a request raises when the line under it drops: Telethon's "Cannot send requests
# while disconnected" (a ConnectionError, raised before any await), the read that broke
# (IncompleteReadError) or the socket's own error.
LINE_DOWN = (OSError, EOFError)


@dataclass
class _Account:
    lease: Lease
    client: TelegramClient
    bot_id: int
    bot: object
    keeper: asyncio.Task
    session: TelethonSession | None = None
    rested_until: float = 0.0
    online: bool = True
    epoch: int = 0
    """Connections made so far: a request that failed on one waits for the next."""
    lost: str | None = None
    """Why the account is unusable now (dropped, set aside); wakes whoever waits online."""
    lost_connection: bool = False
    """It was dropped because Telegram could not be reached: an outage, not this account's."""
    watcher: asyncio.Task | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def chat_history(self) -> list:
        """The latest messages of the chat with the bot, as Telegram has them."""
        return await _on_the_line(self.client.get_messages(self.bot, limit=CATCH_UP_MESSAGES))

    def went_offline(self) -> None:
        self.online = False
        self._wake()

    def came_online(self) -> None:
        self.online, self.epoch = True, self.epoch + 1
        self._wake()

    def forget(self, why: str) -> None:
        self.lost = why
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def until_online(self, after_epoch: int = -1) -> None:
        """Return once connected (on a connection newer than ``after_epoch``: the one a
        request failed on is gone, even before the watcher notices); raise
        ``Disconnected`` if the account was dropped."""
        while self.lost is None and not (self.online and self.epoch > after_epoch):
            await self._changed.wait()
        if self.lost is not None:
            message = f"account {self.lease.account_id}: {self.lost}"
            raise Disconnected(message, outage=self.lost_connection)


class _OwnReconnects(logging.Filter):
    """Telethon's own reconnection is off on purpose; its "automatic reconnection failed 0
    time(s)" is an error only to Telethon. The watcher below reports what happens."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Automatic reconnection failed")


_TELETHON_SENDER_LOG = logging.getLogger("telethon.network.mtprotosender")


class TelethonSession:
    """A conversation on one checked-out account."""

    def __init__(self, transport: TelethonTransport, account: _Account) -> None:
        self.inbox = Inbox()
        self._transport = transport
        self._account = account
        self.seen: set[int] = set()
        self._first_id: int | None = None  # this conversation's first message to the bot
        self._last_sent_id = 0
        self.reconnects = 0
        """Reconnects of the account's connection while this conversation held it."""

    def receive(self, message_id: int, text: str, recovered: bool = False) -> None:
        """A message from the bot, delivered once however it arrived. One that arrives
        while the account is still coming back from an outage was stuck in it: recovered."""
        if message_id in self.seen or (self._first_id is not None and message_id < self._first_id):
            return
        self.seen.add(message_id)
        self.inbox.deliver(text, message_id, recovered or not self._account.online)

    async def catch_up(self, window_end: float) -> None:
        """Read the chat's latest messages: a bot message whose push was lost is there,
        whenever Telegram stamped it. One try: when the line drops under it, the watcher
        reads the chat again once it has reconnected."""
        account = self._account
        await account.until_online()
        with contextlib.suppress(*LINE_DOWN):
            self.take_missed(await account.chat_history())

    def take_missed(self, latest: list) -> None:
        """Deliver, as recovered, the bot's messages among ``latest`` not seen yet."""
        if self._first_id is None:
            return
        for message in reversed(latest):
            if not message.out and message.id > self._first_id:
                self.receive(message.id, message.raw_text, recovered=True)

    async def _latest(self) -> list:
        """The chat's latest messages, read once the account is online (again, on the
        next connection, when the line drops under the read)."""
        account = self._account
        epoch = -1
        while True:
            await account.until_online(epoch)
            epoch = account.epoch
            try:
                return await account.chat_history()
            except LINE_DOWN:
                continue

    async def send(self, text: str) -> SentMessage:
        account = self._account
        await account.until_online()
        t_call = Clock.now()
        try:
            message = await self._send_once(text)
        except errors.FloodWaitError as exc:
            account.rested_until = time.monotonic() + exc.seconds
            await self._transport.accounts.record_flood(account.lease.account_id, exc.seconds)
            raise FloodWait(exc.seconds) from None
        except errors.SlowModeWaitError as exc:
            account.rested_until = time.monotonic() + exc.seconds
            raise SlowMode(exc.seconds) from None
        except _RETIRING as exc:
            reason = type(exc).__name__
            await self._transport.retire(account, reason)
            raise AccountRetired(f"account {account.lease.account_id} retired: {reason}") from None
        except tuple(_SETTING_ASIDE) as exc:
            error, advice = _SETTING_ASIDE[type(exc)]
            await self._transport.set_aside(account, advice)
            raise error(f"account {account.lease.account_id}: {advice}") from None
        if self._first_id is None:
            self._first_id = message.id
        self._last_sent_id = message.id
        return SentMessage(text, t_call, Clock.now(), message.id)

    async def _send_once(self, text: str):
        """Send ``text``; if the connection breaks mid-send, wait for it to come back and
        send again only if the chat does not show the message: never twice, never lost."""
        account = self._account
        while True:
            await account.until_online()
            epoch = account.epoch
            try:
                return await _on_the_line(account.client.send_message(account.bot, text))
            except LINE_DOWN:
                await account.until_online(epoch)
            for message in await self._latest():
                if message.out and message.raw_text == text and message.id > self._last_sent_id:
                    return message

    async def close(self) -> None:
        self._transport.check_in(self._account)


class TelethonTransport:
    name = "telethon"
    peer = PEER

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
        reconnect_budget_s: float = RECONNECT_BUDGET_S,
        reseed: list[str] | None = None,
    ) -> None:
        self.accounts = accounts
        self._reseed = reseed or []
        self._leases = leases
        self._bot = bot
        self._api_id = api_id
        self._api_hash = api_hash
        self._holder = holder
        self._ttl = lease_ttl_s
        self._reconnect_budget = reconnect_budget_s
        if not any(isinstance(f, _OwnReconnects) for f in _TELETHON_SENDER_LOG.filters):
            _TELETHON_SENDER_LOG.addFilter(_OwnReconnects())
        self._idle: list[_Account] = []
        self._all: list[_Account] = []
        self._set_aside: list[_Account] = []
        self.reconnects = 0
        self._waiting: Counter[str] = Counter()
        self._warned_waiting = False

    def status(self) -> dict:
        return {
            "accounts_connected": len(self._all),
            "accounts_idle": len(self._idle),
            "accounts_set_aside": len(self._set_aside),
            "reconnects": self.reconnects,
            "waiting_for_account": {k: n for k, n in self._waiting.copy().items() if n},
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
            try:
                lease = await self._leases.acquire(self._holder, self._ttl)
            except (RedisError, OSError) as exc:
                raise RedisUnavailable(f"the account pool's Redis did not answer ({exc})") from None
            OUTAGES.up("Redis")
            if lease is not None:
                return await self._connect(lease)
            if await self._pool_came_back_empty():
                continue
            if not self._warned_waiting:
                self._warned_waiting = True
                log.warning(
                    "chatstorm: users wait for a free Telegram account: all %d leased "
                    "here are busy and the pool has none free; add accounts "
                    "(harness accounts import) or run fewer users",
                    len(self._all),
                )
            await asyncio.sleep(CHECKOUT_POLL_S)

    async def _pool_came_back_empty(self) -> bool:
        """A Redis that restarted without its data has no accounts: put back those of
        --accounts-file (the leases start afresh; the lost ones were fenced out)."""
        if not self._reseed:
            return False
        try:
            if await self.accounts.list():  # some left, if only retired ones: not a restart
                return False
            for session in self._reseed:
                await self.accounts.add(session)
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"the account pool's Redis did not answer ({exc})") from None
        log.warning(
            "chatstorm: the account pool in Redis was empty (Redis restarted without its "
            "data?): added back the %d accounts of --accounts-file",
            len(self._reseed),
        )
        return True

    async def _connect(self, lease: Lease) -> _Account:
        client: TelegramClient | None = None
        try:
            session = await self.accounts.session_of(lease.account_id)
            client = TelegramClient(
                StringSession(session),
                self._api_id,
                self._api_hash,
                flood_sleep_threshold=0,
                raise_last_call_error=True,
                auto_reconnect=False,
            )
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await client.connect()
                bot = await client.get_input_entity(self._bot)
        except _RETIRING as exc:  # a session Telegram ended fails the bot's lookup
            reason = type(exc).__name__
            await self._abandon(client, lease, retired=reason)
            raise AccountRetired(f"account {lease.account_id} retired: {reason}") from None
        except BaseException as exc:
            await self._abandon(client, lease)
            if isinstance(exc, TimeoutError | OSError):
                why = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
                raise Disconnected(
                    f"account {lease.account_id} could not connect to Telegram ({why} "
                    f"within {CONNECT_TIMEOUT_S:g} s)"
                ) from None
            raise
        OUTAGES.up(PEER)
        keeper = asyncio.create_task(keep_lease(self._leases, lease, self._ttl, self._lost))
        account = _Account(lease, client, getattr(bot, "user_id", 0), bot, keeper)
        account.watcher = asyncio.create_task(self._watch_connection(account))
        client.add_event_handler(
            lambda event: self._on_message(account, event), events.NewMessage(incoming=True)
        )
        client.add_event_handler(
            lambda event: self._on_edit(account, event), events.MessageEdited(incoming=True)
        )
        self._all.append(account)
        return account

    async def _abandon(
        self, client: TelegramClient | None, lease: Lease, retired: str | None = None
    ) -> None:
        """A connection that failed: closed, and its account given back to the pool, or
        first retired (so that no one leases it meanwhile) when Telegram refused it."""
        if client is not None:
            await client.disconnect()
        if retired is not None:
            await self.accounts.retire(lease.account_id, retired)
        await self._release(lease)

    async def _on_message(self, account: _Account, event) -> None:
        if event.chat_id == account.bot_id and account.session is not None:
            account.session.receive(event.id, event.raw_text)

    async def _on_edit(self, account: _Account, event) -> None:
        session = account.session
        if event.chat_id == account.bot_id and session is not None and event.id in session.seen:
            session.inbox.deliver(event.raw_text, event.id, edit=True)

    async def _watch_connection(self, account: _Account) -> None:
        """Reconnect whenever the connection drops, backing off; drop the account when the
        budget runs out. The conversation holding the account counts each reconnect."""
        client = account.client
        backoff = _Backoff()
        while True:
            await _dropped(client)
            account.went_offline()
            if not await self._reconnect(account, backoff):
                log.warning(
                    "chatstorm: Telegram account %s lost its connection and could not "
                    "reconnect within %g s; it leaves the run",
                    account.lease.account_id,
                    self._reconnect_budget,
                )
                why = f"no connection to Telegram for {self._reconnect_budget:g} s"
                account.lost_connection = True
                await self._drop(account, why)
                return
            self.reconnects += 1
            session = account.session
            if session is not None:
                session.reconnects += 1
                with contextlib.suppress(*LINE_DOWN, TimeoutError):  # dropped again, or silent
                    async with asyncio.timeout(CONNECT_TIMEOUT_S):
                        session.take_missed(await account.chat_history())
            OUTAGES.up(PEER)
            account.came_online()

    async def _reconnect(self, account: _Account, backoff: _Backoff) -> bool:
        """Back off, then connect, until connected, or False past the budget."""
        give_up = time.monotonic() + self._reconnect_budget
        while True:
            pause = backoff.next_pause()
            if time.monotonic() + pause > give_up:
                return False
            await asyncio.sleep(pause)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await account.client.connect()
                return True
            except Exception as exc:  # refused, reset, timed out: all mean "not yet"
                log.debug("reconnect of %s failed: %s", account.lease.account_id, type(exc))
                await _dropped(account.client)

    async def _lost(self, lease: Lease) -> None:
        """The lease expired under us: stop using the account before someone else does."""
        for account in [a for a in (*self._all, *self._set_aside) if a.lease == lease]:
            await self._drop(account, "its lease was lost")

    def check_in(self, account: _Account) -> None:
        account.session = None
        if account in self._all:
            self._idle.append(account)

    async def retire(self, account: _Account, reason: str) -> None:
        await self.accounts.retire(account.lease.account_id, reason)
        await self._drop(account, f"retired: {reason}")

    async def set_aside(self, account: _Account, advice: str) -> None:
        """Unusable against this bot, for this run: disconnected, but its lease kept, so no
        other worker of the run picks it up only to hit the same wall."""
        account_id = account.lease.account_id
        log.warning("chatstorm: Telegram account %s set aside: %s", account_id, advice)
        self._forget(account, advice)
        self._set_aside.append(account)
        await account.client.disconnect()

    def _forget(self, account: _Account, why: str) -> None:
        """Out of this process's rotation; whoever waits for it to come online is told why."""
        for pool in (self._all, self._idle, self._set_aside):
            if account in pool:
                pool.remove(account)
        account.forget(why)
        current = asyncio.current_task()
        if account.watcher is not None and account.watcher is not current:
            account.watcher.cancel()

    async def _drop(self, account: _Account, why: str) -> None:
        self._forget(account, why)
        if account.keeper is not asyncio.current_task():  # _lost runs inside the keeper
            account.keeper.cancel()
        await account.client.disconnect()
        await self._release(account.lease)

    async def _release(self, lease: Lease) -> None:
        """Give the account back to the pool; with Redis down, its TTL frees it instead."""
        try:
            await self._leases.release(lease)
        except (RedisError, OSError):
            OUTAGES.down("Redis", "releasing an account lease failed")

    async def close(self) -> None:
        for account in [*self._all, *self._set_aside]:
            await self._drop(account, "the run ended")


async def _on_the_line(request: Awaitable[T]) -> T:
    """Await a Telegram request. Telethon (its own reconnection off) cancels the requests
    still waiting when it gives a connection up: that is the line dropping, not this task
    being stopped, and is raised as such (ConnectionError, one of LINE_DOWN)."""
    try:
        return await request
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise ConnectionError("the connection to Telegram was given up mid-request") from None


class _Backoff:
    """Exponential backoff with jitter: 0.5 s doubling to 30 s. It starts again from the
    first pause only once a connection has stayed up for twice the longest pause, so a
    line that drops again and again (on every request of some kind) backs off too."""

    def __init__(self) -> None:
        self._attempt = 0
        self._last = -2 * RECONNECT_MAX_S

    def next_pause(self) -> float:
        now = time.monotonic()
        if now - self._last > 2 * RECONNECT_MAX_S:
            self._attempt = 0
        self._attempt += 1
        pause = jittered_backoff(self._attempt, RECONNECT_FIRST_S, RECONNECT_MAX_S)
        self._last = now + pause
        return pause


async def _dropped(client: TelegramClient) -> None:
    """Wait until the connection is gone, then finish Telethon's half-closed state (its
    update loop outlives a broken connection and would run twice after a new connect)."""
    with contextlib.suppress(Exception):  # the error that broke it, if any
        await client.disconnected
    await client.disconnect()
