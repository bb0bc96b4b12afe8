"""Speaking to the Bot API emulator as a bot does."""

from __future__ import annotations

import json

import aiohttp

TOKEN = "4242:test-secret"


async def call(http: aiohttp.ClientSession, method: str, token: str = TOKEN, **params):
    """A bot's call, form-encoded with nested values as JSON strings, as frameworks do."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with http.post(f"/bot{token}/{method}", data=form) as response:
        return response.status, await response.json()
