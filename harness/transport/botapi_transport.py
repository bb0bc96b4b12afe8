"""The botapi transport: simulated users chat with a real, unmodified bot through the
Bot API emulator (``harness/botapi``), which may run on another machine.

One WebSocket per process (``harness.botapi.protocol``) carries every conversation: each
opens a chat of its own (the emulator allocates the ids, so no two workers ever share
one), injects the user's messages, and receives what the bot does in the chat, pushed.

Timing. The emulator stamps each event with its own clock when it happens: the user's
message when it is injected, the bot's message, edit or chat action when the bot's call
reaches it. Those stamps are mapped onto this process's clock with an offset measured by
ping round trips (``ClockOffset``: shortest recent round trip, re-measured every few
seconds). So ``first_reply`` is the emulator's own interval between the user's last
message and the bot's answer, exactly: the harness-emulator hop adds nothing, in either
direction, however far the emulator is. ``send`` is the time until the emulator had the
message (about half a round trip). The mapping's error (at most half the shortest round
trip, microseconds on one machine) only shifts where an interval sits on the timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from dataclasses import replace

import aiohttp
import orjson

from harness.botapi.protocol import LINK_TOKEN_HEADER, PATH, TOKEN_HEADER
from harness.clock import Clock
from harness.outages import OUTAGES
from harness.scenario.models import Scenario
from harness.transport.base import Inbox, SentMessage, TransportError
from harness.transport.clock_offset import ClockOffset

SYNC_PINGS = 5  # round trips measured before the first conversation
SYNC_EVERY_S = 5.0
REQUEST_TIMEOUT_S = 30.0


PEER = "the Bot API emulator"
NEVER_POLLED = ("never_polled", "the bot never called getUpdates (nor set a webhook)")
UNFETCHED = ("unfetched", "getUpdates: messages the bot never fetched")


class EmulatorLost(TransportError):
    """The connection to the emulator broke in the middle of a conversation."""

    category = "emulator_lost"
    peer = PEER


class EmulatorUnavailable(EmulatorLost, ConnectionError):
    """The emulator cannot be reached or refused us; the message says which and the fix.
    At the start of a run, the run cannot start; mid-run, a conversation that cannot
    begin for it ends as ``emulator_lost`` and its user backs off."""


class BotApiSession:
    """One simulated user's private chat (or group) with the bot."""

    reconnects = 0  # a lost emulator ends the conversation (emulator_lost) instead

    def __init__(self, link: _Link, chat_id: int) -> None:
        self.inbox = Inbox()
        self.chat_id = chat_id
        self._link = link

    async def send(self, text: str) -> SentMessage:
        t_call = Clock.now()
        answer = await self._link.request({"op": "send", "chat_id": self.chat_id, "text": text})
        t_back = Clock.now()
        t_ack = min(max(self._link.clock.local(answer["t"]), t_call), t_back)
        return SentMessage(text, t_call, t_ack, answer["message_id"])

    async def catch_up(self, window_end: float) -> None:
        """A window is closing: a push stamped inside it may still be on the wire (or
        unread behind a busy loop). A ping is a barrier: once its answer is in, so is
        every push sent before it; those stamped by the window's end belong to it.

        The ping also asks how many of the user's messages the bot has not fetched: the
        count after the conversation's last window is how many it never saw, reported
        as the bot's failure (``never_polled`` when it never asked for updates at all)."""
        answer = await self._link.ping(self.chat_id)
        errors = self.inbox.bot_errors
        errors.pop(NEVER_POLLED, None)
        errors.pop(UNFETCHED, None)
        unfetched = answer.get("unfetched")  # an emulator older than the question: None
        if unfetched:
            errors[UNFETCHED if answer["listened"] else NEVER_POLLED] = unfetched
        waiting = self.inbox.drain()
        for message in reversed(waiting):
            in_window = message.t_received <= window_end and not message.recovered
            self.inbox.unget(replace(message, recovered=True) if in_window else message)

    async def close(self) -> None:
        self._link.close_chat(self.chat_id)


class _Link:
    """One WebSocket to the emulator: requests and their answers, pushes to sessions."""

    def __init__(self, url: str, http: aiohttp.ClientSession, ws) -> None:
        self.url = url
        self.clock = ClockOffset()
        self.sessions: dict[int, BotApiSession] = {}
        self._http = http
        self._ws = ws
        self._answers: dict[int, asyncio.Future[dict]] = {}
        self._serial = itertools.count(1)
        self._reader = asyncio.create_task(self._read_forever())
        self._syncer: asyncio.Task | None = None
        self.lost = False

    async def request(self, payload: dict) -> dict:
        if self.lost:
            raise self._lost()
        req = payload["req"] = next(self._serial)
        answer = self._answers[req] = asyncio.get_running_loop().create_future()
        try:
            await self._ws.send_bytes(orjson.dumps(payload))
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await answer
        except TimeoutError:
            raise EmulatorLost(
                f"the Bot API emulator at {self.url} did not answer within {REQUEST_TIMEOUT_S:g} s"
            ) from None
        except (ConnectionError, aiohttp.ClientError):
            raise self._lost() from None
        finally:
            self._answers.pop(req, None)

    def _lost(self) -> EmulatorLost:
        return EmulatorLost(f"lost the connection to the Bot API emulator at {self.url}")

    async def ping(self, chat_id: int | None = None) -> dict:
        """A clock sample; with ``chat_id``, that chat's figures too (see protocol)."""
        sent = Clock.now()
        answer = await self.request(
            {"op": "ping"} if chat_id is None else {"op": "ping", "chat_id": chat_id}
        )
        self.clock.add(sent, answer["t"], Clock.now())
        return answer

    def start_sync(self) -> None:
        self._syncer = asyncio.create_task(self._sync_forever())

    async def _sync_forever(self) -> None:
        while not self.lost:  # a lost link has nothing left to sync
            await asyncio.sleep(SYNC_EVERY_S)
            with contextlib.suppress(TransportError):  # a timeout is one too: EmulatorLost
                await self.ping()

    def close_chat(self, chat_id: int) -> None:
        if self.sessions.pop(chat_id, None) is not None and not self.lost:
            payload = orjson.dumps({"op": "close", "chat_id": chat_id})
            task = asyncio.ensure_future(self._ws.send_bytes(payload))
            task.add_done_callback(_ignore_outcome)

    async def _read_forever(self) -> None:
        try:
            async for frame in self._ws:
                if frame.type == aiohttp.WSMsgType.BINARY:
                    for event in orjson.loads(frame.data):
                        self._dispatch(event)
        finally:
            self.lost = True
            for answer in self._answers.values():
                if not answer.done():
                    answer.set_exception(self._lost())
            for session in self.sessions.values():  # a reply awaited now will never come
                session.inbox.fail(self._lost())

    def _dispatch(self, event: dict) -> None:
        op = event["op"]
        req = event.get("req")
        if req is not None:
            answer = self._answers.get(req)
            if answer is not None and not answer.done():
                if op == "error":
                    answer.set_exception(TransportError(f"emulator: {event['description']}"))
                else:
                    answer.set_result(event)
            return
        session = self.sessions.get(event.get("chat_id"))
        if session is None:  # the conversation is over: a late reply nobody waits for
            return
        inbox = session.inbox
        t = self.clock.local(event["t"])
        if op in ("message", "edit"):
            inbox.deliver(event["text"], event["message_id"], edit=op == "edit", t_received=t)
        elif op == "action":
            inbox.deliver("", action=event["action"], t_received=t)
        elif op == "bot_error":
            inbox.bot_errors[event["category"], event["detail"]] += 1

    async def close(self) -> None:
        if self._syncer is not None:
            self._syncer.cancel()
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._http.close()


class BotApiTransport:
    """Conversations with the bot whose ``token`` the emulator at ``url`` knows."""

    name = "botapi"
    peer = PEER

    def __init__(
        self, url: str, token: str, chat_type: str = "private", link_token: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._headers = {TOKEN_HEADER: token}
        if link_token:
            self._headers[LINK_TOKEN_HEADER] = link_token
        self._chat_type = chat_type
        self._link: _Link | None = None
        self._connecting = asyncio.Lock()

    async def _live_link(self) -> _Link:
        async with self._connecting:
            if self._link is None or self._link.lost:
                if self._link is not None:
                    await self._link.close()
                self._link = await self._connect()
            return self._link

    async def _connect(self) -> _Link:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(
                self.url + PATH,
                headers=self._headers,
                heartbeat=30,
                max_msg_size=16 << 20,
            )
        except aiohttp.WSServerHandshakeError as exc:
            await http.close()
            if exc.status == 401:
                raise EmulatorUnavailable(
                    f"the Bot API emulator at {self.url} refused the bot token: give the "
                    "token the bot uses (<bot id>:<secret>) with --bot-token"
                ) from None
            raise EmulatorUnavailable(
                f"{self.url} is not a chatstorm Bot API emulator (HTTP {exc.status}); "
                "check --botapi-url"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            await http.close()
            raise EmulatorUnavailable(
                f"cannot reach the Bot API emulator at {self.url} ({_reason(exc)}); start "
                "one with `harness botapi serve` or let Locust start it with --botapi-serve"
            ) from None
        link = _Link(self.url, http, ws)
        for _ in range(SYNC_PINGS):
            await link.ping()
        link.start_sync()
        OUTAGES.up(PEER)
        return link

    async def connect(self) -> None:
        """Reach the emulator now: a run that cannot must stop before it starts."""
        await self._live_link()

    async def open(self, conversation_id: str, scenario: Scenario) -> BotApiSession:
        link = await self._live_link()
        persona = scenario.persona
        answer = await link.request(
            {
                "op": "open",
                "type": self._chat_type,
                "first_name": persona.name,
                "language_code": persona.language,
            }
        )
        session = BotApiSession(link, answer["chat_id"])
        link.sessions[session.chat_id] = session
        return session

    def status(self) -> dict:
        link = self._link
        if link is None:
            return {"emulator": self.url, "connected": False}
        return {
            "emulator": self.url,
            "connected": not link.lost,
            "chats_open": len(link.sessions),
            "clock_offset_ms": round(link.clock.offset * 1000, 3),
            "clock_rtt_ms": None if link.clock.rtt is None else round(link.clock.rtt * 1000, 3),
        }

    async def close(self) -> None:
        if self._link is not None:
            await self._link.close()
            self._link = None


def _reason(exc: BaseException) -> str:
    """``Connection refused``, not aiohttp's wording with the address again."""
    cause = getattr(exc, "os_error", None) or exc
    errno = getattr(cause, "errno", None)
    return os.strerror(errno) if errno else str(cause) or type(exc).__name__


def _ignore_outcome(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()
