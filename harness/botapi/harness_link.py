"""The harness's WebSocket (see ``protocol``): opens chats for simulated users, injects
their messages, and pushes what the bot does in those chats back, stamped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import orjson
from aiohttp import WSMsgType, web

from harness.botapi.bots import Bot
from harness.botapi.chats import MAX_TEXT, Chat, new_chat
from harness.botapi.ids import USERS, IdStore
from harness.botapi.protocol import CHAT_TYPES
from harness.clock import Clock

log = logging.getLogger("chatstorm.botapi")
MAX_PENDING = 100_000
"""Events waiting for a harness that does not read; past it the link is closed (it
reconnects) instead of growing without bound."""


class HarnessLink:
    """One harness connection. Pushes pile up in a deque and leave in one frame per
    write, so a burst of replies costs one frame, not one each."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        bot: Bot,
        ids: IdStore,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.ws = ws
        self._transport = transport
        self.bot = bot
        self._ids = ids
        self.chats: dict[int, Chat] = {}
        self._outbox: deque[dict] = deque()
        self._ready = asyncio.Event()
        self._writer = asyncio.create_task(self._write_forever())

    def push(self, event: dict) -> None:
        if len(self._outbox) >= MAX_PENDING:  # a harness that does not read: cut it off
            if self._transport is not None and not self._transport.is_closing():
                log.warning(
                    "bot %d: a harness link read nothing while %d events waited: cut off",
                    self.bot.id,
                    MAX_PENDING,
                )
                self._outbox.clear()
                self._transport.abort()  # a close handshake would wait on it too
            return
        self._outbox.append(event)
        self._ready.set()

    async def _write_forever(self) -> None:
        outbox = self._outbox
        while True:
            await self._ready.wait()
            self._ready.clear()
            if outbox:
                frame = list(outbox)
                outbox.clear()
                await self.ws.send_bytes(orjson.dumps(frame))

    async def serve(self) -> None:
        """Answer the harness until it disconnects; then its chats go quiet."""
        try:
            async for frame in self.ws:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                t = Clock.now()
                request = None  # a frame that is not JSON has no request to answer
                try:
                    request = orjson.loads(frame.data)
                    self._handle(request, t)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    req = request.get("req") if isinstance(request, dict) else None
                    self.push({"op": "error", "req": req, "description": f"bad request: {exc}"})
        finally:
            for chat in self.chats.values():
                chat.owner = None
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._writer

    def _handle(self, request: dict, t: float) -> None:
        op = request["op"]
        req = request.get("req")
        if op == "send":
            chat = self._chat(request["chat_id"])
            text = request["text"]
            if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
                raise ValueError("text must be 1 to 4096 characters")
            message = self.bot.add_user_message(chat, text)
            self.push({"op": "sent", "req": req, "message_id": message["message_id"], "t": t})
        elif op == "ping":
            pong = {"op": "pong", "req": req, "t": t}
            if "chat_id" in request:
                chat = self._chat(request["chat_id"])
                pong.update(unfetched=chat.unfetched, listened=self.bot.listened)
            self.push(pong)
        elif op == "open":
            chat_type = request.get("type", "private")
            if chat_type not in CHAT_TYPES:
                raise ValueError(f"chat type must be one of {', '.join(CHAT_TYPES)}")
            chat = new_chat(
                self._ids.next(USERS),
                chat_type,
                self,
                str(request.get("first_name") or "User"),
                str(request.get("language_code") or "en"),
            )
            self.bot.open_chat(chat)
            self.chats[chat.id] = chat
            self.push({"op": "opened", "req": req, "chat_id": chat.id, "user_id": chat.user["id"]})
        elif op == "close":
            chat = self.chats.pop(request["chat_id"], None)
            if chat is not None:
                self.bot.close_chat(chat)
        else:
            raise ValueError(f"unknown op {op!r}")

    def _chat(self, chat_id: int) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ValueError(f"chat {chat_id} is not open on this connection")
        return chat
