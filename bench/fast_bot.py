"""The fastest bot there is, for bench/botapi.py: written straight against the Bot API
over HTTP with aiohttp, it long-polls up to 100 updates at a time and answers each at
once, all concurrently, so that the emulator, not the bot, is what is measured.

    BOT_TOKEN=1:abc python bench/fast_bot.py http://127.0.0.1:8081
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import orjson

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


async def main(url: str, token: str) -> None:
    base = f"{url}/bot{token}"
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(
        connector=connector, json_serialize=lambda o: orjson.dumps(o).decode()
    ) as http:

        async def answer(message: dict) -> None:
            payload = {"chat_id": message["chat"]["id"], "text": "ok"}
            async with http.post(f"{base}/sendMessage", json=payload) as response:
                await response.read()

        offset = 0
        while True:
            payload = {"offset": offset, "timeout": 10, "limit": 100}
            async with http.post(f"{base}/getUpdates", json=payload) as response:
                updates = orjson.loads(await response.read())["result"]
            if updates:
                offset = updates[-1]["update_id"] + 1
                await asyncio.gather(*(answer(u["message"]) for u in updates))


if __name__ == "__main__":
    runner = uvloop.run if uvloop is not None else asyncio.run
    runner(main(sys.argv[1], os.environ["BOT_TOKEN"]))
