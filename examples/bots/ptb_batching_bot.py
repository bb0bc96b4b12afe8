"""A python-telegram-bot bot for the tests, run as a subprocess against the emulator.

It behaves like a production agent with a message buffer: it collects a chat's messages
until ``--debounce`` seconds pass without a new one, shows "typing", thinks ``--think``
seconds, and answers the batch in ``--parts`` messages ``--gap`` seconds apart, the
first naming every message of the batch. ``/start ARGS`` is answered at once by a
CommandHandler. With ``--too-fast`` it sends its parts with no pause and, when told to
wait (429), carries on regardless: the bot that Telegram's limits exist for.

Its log (``--log``, JSON lines) is the ground truth: per batch, the messages received
and the parts sent, stamped with ``time.monotonic()`` (the emulator's clock on this
machine). The token comes from BOT_TOKEN, never from the command line.

    BOT_TOKEN=1:abc python examples/bots/ptb_batching_bot.py \
        --base-url http://127.0.0.1:8081 --log bot.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from telegram import ReplyParameters, Update
from telegram.error import RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters


class Batcher:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.log = open(options.log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self.buffers: dict[int, list[dict]] = {}
        self.timers: dict[int, asyncio.Task] = {}

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id
        self.buffers.setdefault(chat_id, []).append(
            {"text": update.message.text, "t": time.monotonic(), "id": update.message.message_id}
        )
        timer = self.timers.get(chat_id)
        if timer is not None:
            timer.cancel()
        self.timers[chat_id] = asyncio.create_task(self.answer_later(chat_id, context))

    async def answer_later(self, chat_id: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        options = self.options
        await asyncio.sleep(options.debounce)
        del self.timers[chat_id]
        batch = self.buffers.pop(chat_id)
        record = {"chat_id": chat_id, "received": batch, "t_closed": time.monotonic()}
        record["t_typing"] = time.monotonic()
        await context.bot.send_chat_action(chat_id, "typing")
        await asyncio.sleep(options.think)
        sent, refused = [], 0
        for part in range(options.parts):
            if part and not options.too_fast:
                await asyncio.sleep(options.gap)
            text = " | ".join(m["text"] for m in batch) if part == 0 else f"part {part + 1}"
            t = time.monotonic()
            try:
                await context.bot.send_message(
                    chat_id, text, reply_parameters=ReplyParameters(batch[-1]["id"])
                )
            except RetryAfter:
                refused += 1
                continue
            sent.append({"text": text, "t": t})
        record.update(sent=sent, refused=refused)
        self.log.write(json.dumps(record) + "\n")

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        t = time.monotonic()
        text = f"started with {' '.join(context.args) or 'nothing'}"
        await update.message.reply_text(text)
        received = [{"text": update.message.text, "t": t}]
        record = {"chat_id": update.effective_chat.id, "received": received, "command": True}
        self.log.write(json.dumps({**record, "sent": [{"text": text, "t": t}]}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--debounce", type=float, default=0.3)
    parser.add_argument("--think", type=float, default=0.1)
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--gap", type=float, default=0.05)
    parser.add_argument("--too-fast", action="store_true")
    options = parser.parse_args()
    batcher = Batcher(options)
    application = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(f"{options.base_url}/bot")
        .base_file_url(f"{options.base_url}/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("start", batcher.on_start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, batcher.on_text))
    application.run_polling(timeout=10, poll_interval=0)


if __name__ == "__main__":
    main()
