"""Speaking to the Bot API emulator as a bot does; serving it, running real bots on it
and holding conversations with them over the botapi transport."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from harness.botapi.protocol import LINK_TOKEN_HEADER, STATS_PATH
from harness.clock import Clock
from harness.conversation import run_conversation
from harness.scenario import Scenario
from harness.transport.botapi_transport import BotApiTransport
from tests.support.observers import Collected

TOKEN = "4242:test-secret"
REPO = Path(__file__).resolve().parents[2]
_bot_ids = itertools.count(7001)


async def call(http: aiohttp.ClientSession, method: str, token: str = TOKEN, **params):
    """A bot's call, form-encoded with nested values as JSON strings, as frameworks do."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with http.post(f"/bot{token}/{method}", data=form) as response:
        return response.status, await response.json()


def emulator_stats(url: str, link_token: str | None = None) -> dict:
    """The emulator's own figures (which bots poll, what they sent). The link token is
    presented as the harness does: given, else CHATSTORM_LINK_TOKEN when set."""
    request = urllib.request.Request(f"{url}{STATS_PATH}")
    link_token = link_token or os.environ.get("CHATSTORM_LINK_TOKEN")
    if link_token:
        request.add_header(LINK_TOKEN_HEADER, link_token)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def new_token() -> str:
    """A bot of its own per test: tests sharing an emulator never share a bot."""
    return f"{next(_bot_ids)}:chatstorm-test-{os.getpid()}"


@contextmanager
def stopped_at_exit(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """A bot whose server disappears retries forever: kill it on every path, by its pid.
    (Asked politely, a bot first waits for its long poll to end: seconds per test.)"""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def serve_emulator(port: int, state: Path) -> tuple[subprocess.Popen, str]:
    """``harness botapi serve`` in a subprocess, once it listens (port 0: any free one);
    the process and its URL."""
    command = [sys.executable, "-m", "harness.cli", "botapi", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--state", str(state)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    line = process.stdout.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+", line)
    if url is None:
        process.kill()
        process.wait()
        raise AssertionError(f"the emulator did not start: {line!r}")
    return process, url.group(0)


@contextmanager
def running_emulator(state: Path) -> Iterator[str]:
    """An emulator of the test's own, on a free port, killed at the end; its URL."""
    process, url = serve_emulator(0, state)
    with stopped_at_exit(process):
        yield url


@contextmanager
def bot_process(script: Path, url: str, token: str, *args: str) -> Iterator[subprocess.Popen]:
    """A bot program, running until it polls (or its webhook is set); killed at the end.
    The token goes in BOT_TOKEN, never on a command line."""
    process = subprocess.Popen(
        [sys.executable, str(script), "--base-url", url, *args],
        env={**os.environ, "BOT_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    with stopped_at_exit(process):
        wait_until_listening(url, token, process)
        yield process


def wait_until_listening(url: str, token: str, process: subprocess.Popen) -> None:
    """Until the bot holds a long poll or has its webhook set."""
    bot_id = token.split(":")[0]
    deadline = time.monotonic() + 30
    while True:
        figures = emulator_stats(url)["bots"].get(bot_id, {})
        if figures.get("polling") or figures.get("webhook"):
            return
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, f"{process.args[1]} did not connect within 30 s"
        time.sleep(0.05)


async def converse_with_bot(
    url: str,
    token: str,
    conversations: dict[str, Scenario],
    scale: float,
    chat_type: str = "private",
    timeout_s: float = 30,
) -> Collected:
    """Hold the conversations at once over the botapi transport; what they produced."""
    transport = BotApiTransport(url, token, chat_type)
    await transport.connect()
    collected = Collected()
    try:
        runs = [
            run_conversation(transport, chat, name, Clock(scale), collected)
            for name, chat in conversations.items()
        ]
        await asyncio.wait_for(asyncio.gather(*runs), timeout_s)
    finally:
        await transport.close()
    return collected
