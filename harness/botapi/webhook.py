"""Webhook mode: when a bot sets a webhook, its updates are POSTed to it, one per request,
with the secret token header, up to ``max_connections`` at once. A refused or failed
delivery is retried with a growing pause (as Telegram does) and shows in
``getWebhookInfo``. The bot may answer a delivery with a method call in the response
body (``{"method": "sendMessage", ...}``), which is executed as if it had been called."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from harness.botapi.bots import Bot, Update
from harness.clock import Clock

log = logging.getLogger("chatstorm.botapi")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_S = (0.1, 0.5, 1, 2, 5, 10)
ATTEMPTS = 20
DELIVERY_TIMEOUT = aiohttp.ClientTimeout(total=60)

# Runs a method call a webhook answered with: (bot, its parameters, when it arrived).
AnswerRunner = Callable[[Bot, dict, float], Awaitable[None]]


class Webhook:
    def __init__(
        self,
        bot: Bot,
        url: str,
        secret: str,
        max_connections: int,
        client: aiohttp.ClientSession,
        run_answer: AnswerRunner,
    ) -> None:
        self.bot = bot
        self.url = url
        self.max_connections = max_connections
        self._headers = {"Content-Type": "application/json"} | (
            {SECRET_HEADER: secret} if secret else {}
        )
        self._client = client
        self._run_answer = run_answer
        self._slots = asyncio.Semaphore(max_connections)
        self._ready = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()
        self.last_error: tuple[int, str] | None = None
        self._task = asyncio.create_task(self._deliver_forever())

    def wake(self) -> None:
        self._ready.set()

    def info(self) -> dict:
        info = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.bot.pending) + len(self._in_flight),
            "max_connections": self.max_connections,
        }
        if self.bot.allowed_updates is not None:
            info["allowed_updates"] = sorted(self.bot.allowed_updates)
        if self.last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.last_error
        return info

    async def _deliver_forever(self) -> None:
        pending = self.bot.pending
        while True:
            if not pending:
                self._ready.clear()
                await self._ready.wait()
                continue
            await self._slots.acquire()
            if not pending:
                self._slots.release()
                continue
            update = pending.popleft()
            if not self.bot.allows(update.kind):
                self._slots.release()
                continue
            task = asyncio.create_task(self._deliver(update))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, update: Update) -> None:
        try:
            for attempt in range(ATTEMPTS):
                if await self._post(update):
                    return
                await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
            log.warning(
                "bot %d: update %d dropped: its webhook kept failing", self.bot.id, update.update_id
            )
        except asyncio.CancelledError:
            self.bot.pending.appendleft(update)  # the webhook was removed: keep it for polling
            raise
        finally:
            self._slots.release()

    async def _post(self, update: Update) -> bool:
        try:
            async with self._client.post(
                self.url, data=update.body, headers=self._headers, timeout=DELIVERY_TIMEOUT
            ) as response:
                body = await response.read()
                t = Clock.now()
                if response.status >= 300:
                    self._failed(f"Wrong response from the webhook: {response.status}")
                    return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._failed(f"Connection failed: {type(exc).__name__}")
            return False
        update.hand_over()
        await self._answer(body, t)
        return True

    async def _answer(self, body: bytes, t: float) -> None:
        if not body.strip():
            return
        try:
            call = orjson.loads(body)
        except orjson.JSONDecodeError:
            return  # anything but a method call is ignored, as on Telegram
        if isinstance(call, dict) and isinstance(call.get("method"), str):
            await self._run_answer(self.bot, call, t)

    def _failed(self, message: str) -> None:
        self.last_error = (int(time.time()), message)

    async def stop(self) -> None:
        tasks = [self._task, *self._in_flight]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Webhooks:
    """Every bot's webhook, sharing one HTTP client."""

    def __init__(self, run_answer: AnswerRunner) -> None:
        self._run_answer = run_answer
        self._client: aiohttp.ClientSession | None = None

    async def set(self, bot: Bot, url: str, secret: str, max_connections: int) -> None:
        await self.remove(bot)
        if self._client is None:
            self._client = aiohttp.ClientSession()
        bot.webhook = Webhook(bot, url, secret, max_connections, self._client, self._run_answer)
        bot.wake()  # a held getUpdates ends: the updates go to the webhook now

    async def remove(self, bot: Bot) -> None:
        webhook, bot.webhook = bot.webhook, None
        if webhook is not None:
            await webhook.stop()
            # Deliveries cut short went back to the queue: in order again, for getUpdates.
            bot.pending = deque(sorted(bot.pending, key=lambda update: update.update_id))

    async def close(self, bots: list[Bot]) -> None:
        for bot in bots:
            await self.remove(bot)
        if self._client is not None:
            await self._client.close()
