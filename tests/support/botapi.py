"""Speaking to the Bot API emulator as a bot does."""

from __future__ import annotations

import json
import urllib.request

import aiohttp

from harness.botapi.protocol import STATS_PATH

TOKEN = "4242:test-secret"


async def call(http: aiohttp.ClientSession, method: str, token: str = TOKEN, **params):
    """A bot's call, form-encoded with nested values as JSON strings, as frameworks do."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with http.post(f"/bot{token}/{method}", data=form) as response:
        return response.status, await response.json()


def emulator_stats(url: str) -> dict:
    """The emulator's own figures (which bots poll, what they sent)."""
    with urllib.request.urlopen(f"{url}{STATS_PATH}", timeout=5) as response:
        return json.loads(response.read())
