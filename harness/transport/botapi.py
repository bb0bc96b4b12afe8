"""The botapi transport's kind: a real bot through the Bot API emulator. The transport
itself (and aiohttp) is in ``botapi_transport``, imported when a run opens it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.botapi.protocol import CHAT_TYPES, TOKEN
from harness.options import Option, OptionGroup, http_url, output_file
from harness.transport.base import Transport
from harness.transport.kind import OpenContext, TransportKind

DEFAULT_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True)
class BotApiSettings:
    url: str | None = None
    token: str | None = field(default=None, repr=False)  # a secret: never shown
    chat: str = "private"
    serve: bool = False
    """Start the emulator in this run (Locust: the master)."""
    state: Path | None = None
    telegram_limits: bool = False
    link_token: str | None = field(default=None, repr=False)  # a secret: never shown

    @property
    def emulator_url(self) -> str:
        return (self.url or DEFAULT_URL).rstrip("/")


class BotApiKind(TransportKind[BotApiSettings]):
    name = "botapi"
    implementation = "harness.transport.botapi_transport"
    options = OptionGroup(
        "chatstorm over the Bot API emulator",
        "With --transport botapi: your real bot, pointed at the emulator (harness/botapi).",
        (
            Option(
                "--botapi-url",
                f"Where the emulator listens (default with --botapi-serve: {DEFAULT_URL}).",
                parse=http_url,
                env="CHATSTORM_BOTAPI_URL",
            ),
            Option(
                "--bot-token",
                "The token your bot uses (never logged or reported).",
                env="CHATSTORM_BOT_TOKEN",
            ),
            Option(
                "--botapi-link-token",
                "The emulator's harness-link token, when it has one (it must, when it "
                "listens beyond this machine). With --botapi-serve: the token it requires.",
                env="CHATSTORM_LINK_TOKEN",
            ),
            Option(
                "--botapi-serve",
                "Start the emulator in this process at --botapi-url (Locust: in the master).",
                default=False,
                switch=True,
            ),
            Option(
                "--botapi-chat",
                "The kind of chat each simulated user writes in (default private).",
                default="private",
                choices=CHAT_TYPES,
            ),
            Option(
                "--botapi-state",
                "With --botapi-serve: where update ids are kept across restarts "
                "(default: $XDG_STATE_HOME/chatstorm/botapi.json).",
                parse=output_file,
                metavar="PATH",
            ),
            Option(
                "--telegram-limits",
                "With --botapi-serve: answer a bot that sends too fast with 429, as Telegram does.",
                default=False,
                switch=True,
            ),
        ),
    )

    def settings(self, values: Mapping[str, Any]) -> BotApiSettings:
        state = values.get("botapi_state")
        return BotApiSettings(
            url=values.get("botapi_url"),
            token=values.get("bot_token"),
            chat=values.get("botapi_chat") or "private",
            serve=bool(values.get("botapi_serve")),
            state=Path(state) if state else None,
            telegram_limits=bool(values.get("telegram_limits")),
            link_token=values.get("botapi_link_token"),
        )

    def problems(self, settings: BotApiSettings) -> list[str]:
        problems = []
        if not settings.token:
            problems.append(
                "--transport botapi needs the bot's token: --bot-token TOKEN "
                "(or CHATSTORM_BOT_TOKEN)"
            )
        elif not TOKEN.fullmatch(settings.token):
            problems.append(
                "--bot-token is not a bot token: expected <bot id>:<secret>, as BotFather gives it"
            )
        if settings.url is None and not settings.serve:
            problems.append(
                "--transport botapi needs --botapi-url URL (where `harness botapi serve` "
                "listens) or --botapi-serve to start the emulator in Locust"
            )
        elif not settings.emulator_url.startswith(("http://", "https://")):
            problems.append(
                f"--botapi-url must start with http:// or https://, got {settings.emulator_url}"
            )
        if settings.chat not in CHAT_TYPES:
            problems.append(f"--botapi-chat must be one of {', '.join(CHAT_TYPES)}")
        return problems

    async def open(self, settings: BotApiSettings, context: OpenContext) -> Transport:
        from harness.transport.botapi_transport import BotApiTransport

        transport = BotApiTransport(
            settings.emulator_url, settings.token or "", settings.chat, settings.link_token
        )
        await transport.connect()
        return transport


BOTAPI = BotApiKind()
