"""Speaking to the Bot API emulator as a bot does."""

from __future__ import annotations

import json
import urllib.request

import aiohttp

from harness.botapi.protocol import LINK_TOKEN_HEADER, STATS_PATH

TOKEN = "4242:test-secret"


async def call(http: aiohttp.ClientSession, method: str, token: str = TOKEN, **params):
    """A bot's call, form-encoded with nested values as JSON strings, as frameworks do."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with http.post(f"/bot{token}/{method}", data=form) as response:
        return response.status, await response.json()


def emulator_stats(url: str, link_token: str | None = None) -> dict:
    """The emulator's own figures (which bots poll, what they sent)."""
    request = urllib.request.Request(f"{url}{STATS_PATH}")
    if link_token:
        request.add_header(LINK_TOKEN_HEADER, link_token)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())
