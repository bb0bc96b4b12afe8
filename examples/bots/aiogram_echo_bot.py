"""An aiogram bot for the tests, run as a subprocess against the emulator: it answers
every message with ``echo: <text>`` and ``/start`` with a greeting, by long polling or,
with ``--webhook-port``, through a webhook it sets itself (with a secret token, checked
on every delivery). The token comes from BOT_TOKEN, never from the command line.

    BOT_TOKEN=1:abc python examples/bots/aiogram_echo_bot.py --base-url http://127.0.0.1:8081
"""

from __future__ import annotations

import argparse
import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

SECRET = "chatstorm-test-secret"
dispatcher = Dispatcher()


@dispatcher.message(CommandStart())
async def on_start(message: Message) -> None:
    await message.answer("hello from aiogram")


@dispatcher.message()
async def on_text(message: Message) -> None:
    await message.bot.send_chat_action(message.chat.id, "typing")
    await message.answer(f"echo: {message.text}")


async def serve_webhook(bot: Bot, base_port: int) -> None:
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=SECRET).register(app, path="/hook")
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", base_port).start()
    await bot.set_webhook(f"http://127.0.0.1:{base_port}/hook", secret_token=SECRET)
    print("webhook set", flush=True)
    await asyncio.Event().wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--webhook-port", type=int, default=None)
    options = parser.parse_args()
    session = AiohttpSession(api=TelegramAPIServer.from_base(options.base_url))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    if options.webhook_port is None:
        await dispatcher.start_polling(bot, handle_signals=True)
    else:
        await serve_webhook(bot, options.webhook_port)


if __name__ == "__main__":
    asyncio.run(main())
