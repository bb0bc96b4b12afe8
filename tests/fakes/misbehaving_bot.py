"""An aiogram bot with one bug of the kind bots in a hurry have, chosen by ``--bug``, run
as a subprocess against the Bot API emulator. Apart from its bug it answers every message
with ``echo: <text>``. The token comes from BOT_TOKEN, never from the command line.

- ``twice``: answers every message twice (two handlers, say).
- ``wrong_chat``: answers ``from_user.id`` instead of ``chat.id``: in a group, a private
  chat the user never opened, which Telegram refuses (403).
- ``foreign_edit``: tries to edit the user's message before answering (400).
- ``late``: answers after ``--delay`` seconds.
- ``flood``: answers the first message with ``--count`` messages, then as usual.
- ``crash``: dies (exit 3) on the ``--crash-after``-th message plus one, before answering
  it; started again, it fetches that message once more, as Telegram redelivers what a
  bot never confirmed.

It logs what it did, one JSON line each (``--log``), for the tests to check against.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

FLOOD_AT_ONCE = 32  # sends in flight at once: the flood takes seconds, not minutes


class Buggy:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.handled = 0
        self.flooded = False
        self.log = Path(options.log) if options.log else None

    def note(self, **fields: object) -> None:
        if self.log is not None:
            with self.log.open("a") as out:
                out.write(json.dumps(fields) + "\n")

    async def on_message(self, message: Message) -> None:
        bug, options = self.options.bug, self.options
        self.handled += 1
        if bug == "crash" and self.handled > options.crash_after:
            self.note(crashed_on=message.text)
            os._exit(3)
        answer = f"echo: {message.text}"
        try:
            if bug == "foreign_edit":
                await message.bot.edit_message_text(
                    "edited", chat_id=message.chat.id, message_id=message.message_id
                )
        except TelegramAPIError as error:
            self.note(refused="editMessageText", error=str(error))
        if bug == "late":
            await asyncio.sleep(options.delay)
        if bug == "flood" and not self.flooded:
            self.flooded = True
            await self.flood(message)
            return
        chat_id = message.from_user.id if bug == "wrong_chat" else message.chat.id
        for _ in range(2 if bug == "twice" else 1):
            try:
                await message.bot.send_message(chat_id, answer)
                self.note(answered=message.text)
            except TelegramAPIError as error:
                self.note(refused="sendMessage", error=str(error))

    async def flood(self, message: Message) -> None:
        slots = asyncio.Semaphore(FLOOD_AT_ONCE)

        async def one(index: int) -> None:
            async with slots:
                await message.bot.send_message(message.chat.id, f"flood {index}")

        await asyncio.gather(*(one(index) for index in range(self.options.count)))
        self.note(flooded=self.options.count)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument(
        "--bug",
        required=True,
        choices=["twice", "wrong_chat", "foreign_edit", "late", "flood", "crash"],
    )
    parser.add_argument("--delay", type=float, default=60.0)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--crash-after", type=int, default=2)
    parser.add_argument("--log", default=None)
    options = parser.parse_args()
    buggy = Buggy(options)
    dispatcher = Dispatcher()
    dispatcher.message()(buggy.on_message)
    session = AiohttpSession(api=TelegramAPIServer.from_base(options.base_url))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    await dispatcher.start_polling(bot, handle_signals=True)


if __name__ == "__main__":
    asyncio.run(main())
