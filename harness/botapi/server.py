"""The emulator: an aiohttp server speaking the Bot API to bots and the harness protocol
to load generators.

Bots are known by their token: any well-formed token (``<bot id>:<secret>``) is a bot,
created on first use; a second token with the same bot id is refused, as a revoked one
would be. Tokens are secrets: they never appear in its logs (the access log, which would
print every ``/bot<token>/...`` path, is off) nor in its state file or stats.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
import os
import socket
from pathlib import Path

import orjson
from aiohttp import WSCloseCode, web

from harness.botapi.bots import Bot
from harness.botapi.chats import Chat
from harness.botapi.errors import UNAUTHORIZED, ApiError, not_implemented
from harness.botapi.harness_link import HarnessLink
from harness.botapi.ids import IdStore, default_state_path
from harness.botapi.limits import Limits
from harness.botapi.methods import METHODS, Call
from harness.botapi.params import Params, read_params
from harness.botapi.protocol import LINK_TOKEN_HEADER, PATH, STATS_PATH, TOKEN, TOKEN_HEADER
from harness.botapi.webhook import Webhooks
from harness.clock import Clock

log = logging.getLogger("chatstorm.botapi")
JSON = "application/json"


class Emulator:
    def __init__(
        self,
        state_path: Path | None = None,
        limits: Limits | None = None,
        link_token: str | None = None,
    ) -> None:
        self.ids = IdStore(state_path)
        self.limits = limits
        self._link_token = link_token
        self.bots: dict[int, Bot] = {}
        self.webhooks = Webhooks(self._run_webhook_answer)
        self.app = web.Application(middlewares=[_telegram_errors])
        self.app.router.add_route("*", "/bot{token}/{method}", self._api)
        self.app.router.add_get(PATH, self._harness)
        self.app.router.add_get(STATS_PATH, self._stats)
        self._links: set[HarnessLink] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @classmethod
    def configured(
        cls, state_path: Path | None, telegram_limits: bool, link_token: str | None = None
    ) -> Emulator:
        """As the command line asks: the state file (or the default one), limits or none,
        the harness link's token or none."""
        limits = Limits() if telegram_limits else None
        return cls(state_path or default_state_path(), limits, link_token)

    def bot(self, token: str) -> Bot:
        match = TOKEN.fullmatch(token)
        if match is None:
            raise UNAUTHORIZED
        bot_id, secret = int(match.group(1)), match.group(2)
        bot = self.bots.get(bot_id)
        if bot is None:
            bot = self.bots[bot_id] = Bot(bot_id, secret, self.ids, self.limits)
            log.info("bot %d (@%s) is new here", bot_id, bot.username)
        elif bot.secret != secret:
            raise UNAUTHORIZED
        return bot

    async def start(self, host: str = "127.0.0.1", port: int = 8081) -> int:
        """Serve on ``host:port`` (port 0: any free one); returns the port. Beyond this
        machine only with a token on the harness link (ValueError otherwise)."""
        if not _loopback(host) and not self._link_token:
            raise ValueError(
                f"serving on {host} lets anyone who reaches it write as your users: give "
                "the harness link a token (--link-token, or CHATSTORM_LINK_TOKEN), and the "
                "same token to the harness"
            )
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            named = isinstance(exc, socket.gaierror)  # its errno is the resolver's own
            reason = exc.strerror if named or not exc.errno else os.strerror(exc.errno)
            if named or exc.errno == errno.EADDRNOTAVAIL:
                raise OSError(  # the host, not the port
                    f"the Bot API emulator cannot listen on {host}: not an address of this "
                    f"machine ({reason.lower()}); give one of its addresses, or 0.0.0.0"
                ) from None
            raise OSError(
                f"the Bot API emulator cannot listen on {host}:{port}: {reason.lower()}; "
                "choose another port"
            ) from None
        self.port = site._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for bot in self.bots.values():
            bot.end_poll()
        await self.webhooks.close(list(self.bots.values()))
        for link in list(self._links):  # a harness still connected would hold the shutdown
            await link.ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator stopping")
        if self._runner is not None:
            await self._runner.cleanup()

    def stats(self) -> dict:
        return {"bots": {str(bot_id): bot.stats() for bot_id, bot in self.bots.items()}}

    async def _api(self, request: web.Request) -> web.Response:
        t = Clock.now()
        name = request.match_info["method"]
        try:
            bot = self.bot(request.match_info["token"])
        except ApiError as error:
            return _error(error)
        params: Params | None = None
        try:
            params = await read_params(request)
            result = await self.call(bot, name, params, t)
        except ApiError as error:
            chat = _chat_of(bot, params)
            bot.note_error(error, name, chat, t)
            return _error(error)
        except Exception as exc:  # logged here, without the request path (it holds the token)
            log.exception("bot %d: %s failed inside the emulator", bot.id, name)
            return _error(ApiError(500, f"Internal Server Error: {type(exc).__name__}"))
        return web.Response(body=orjson.dumps({"ok": True, "result": result}), content_type=JSON)

    async def call(self, bot: Bot, name: str, params: Params, t: float):
        method = METHODS.get(name.lower())
        if method is None:
            raise not_implemented(name)
        bot.counts["calls"] += 1
        return await method(Call(bot, params, t, self.webhooks))

    async def _run_webhook_answer(self, bot: Bot, call: dict, t: float) -> None:
        name = call.pop("method")
        params = Params(call)
        try:
            await self.call(bot, name, params, t)
        except ApiError as error:
            bot.note_error(error, name, _chat_of(bot, params), t)

    async def _harness(self, request: web.Request) -> web.StreamResponse:
        if not self._link_allowed(request):
            return _error(LINK_UNAUTHORIZED)
        try:
            bot = self.bot(request.headers.get(TOKEN_HEADER, ""))
        except ApiError as error:
            return _error(error)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        link = HarnessLink(ws, bot, self.ids, request.transport)
        self._links.add(link)
        try:
            await link.serve()
        finally:
            self._links.discard(link)
        return ws

    def _link_allowed(self, request: web.Request) -> bool:
        if not self._link_token:
            return True
        given = request.headers.get(LINK_TOKEN_HEADER, "")
        return hmac.compare_digest(given.encode(), self._link_token.encode())

    async def _stats(self, request: web.Request) -> web.Response:
        if not self._link_allowed(request):
            return _error(LINK_UNAUTHORIZED)
        return web.Response(body=orjson.dumps(self.stats()), content_type=JSON)


def _chat_of(bot: Bot, params: Params | None) -> Chat | None:
    """Where a failed call's mistake is reported (to that chat's harness connection)."""
    return None if params is None else bot.chat_named(params.values.get("chat_id"))


@web.middleware
async def _telegram_errors(request: web.Request, handler) -> web.StreamResponse:
    """What aiohttp answers itself (no such path, a body too large) as Telegram words it:
    a bot reads JSON whatever went wrong."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/bot"):
            raise
        return _error(ApiError(exc.status, TELEGRAM_REASONS.get(exc.status, exc.reason)))


LINK_UNAUTHORIZED = ApiError(401, "Unauthorized: the harness link needs its token (--link-token)")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


TELEGRAM_REASONS = {404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large"}


def _error(error: ApiError) -> web.Response:
    return web.Response(status=error.code, body=error.body(), content_type=JSON)
