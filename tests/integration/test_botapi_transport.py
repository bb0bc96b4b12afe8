"""The botapi transport's own duties: mapping the emulator's clock onto the harness's,
and refusing in one line what cannot work (no emulator, a wrong token, missing options).

The emulator here runs in process (with its clock set 500 s apart from the harness's, as
on another machine); bots written straight against the HTTP API answer on a fixed
schedule, so every reading is known."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from harness.botapi.server import Emulator
from harness.clock import Clock
from harness.conversation import run_conversation
from harness.transport.botapi_transport import (
    BotApiTransport,
    EmulatorLost,
    EmulatorUnavailable,
)
from tests.support.botapi import TOKEN, call
from tests.support.locust_runs import free_port
from tests.support.observers import Collected
from tests.support.scenarios import scenario

SKEW_S = 500.0
ANSWER_AFTER_S = 0.1
# The answer cannot come sooner than the bot's pause, and comes a delivery and an HTTP call
# later (a few ms; tens on a loaded machine). A broken mapping is off by 500 s.
TOLERANCE_MS = 40.0


class SkewedClock:
    """The emulator's clock on another machine: 500 s ahead of ours."""

    @staticmethod
    def now() -> float:
        return time.monotonic() + SKEW_S


Answer = Callable[[aiohttp.ClientSession, dict], Awaitable[None]]


async def answer_after_a_pause(http: aiohttp.ClientSession, message: dict) -> None:
    """``re: <text>``, ANSWER_AFTER_S after the message."""
    await asyncio.sleep(ANSWER_AFTER_S)
    await call(http, "sendMessage", chat_id=message["chat"]["id"], text=f"re: {message['text']}")


async def stream_by_editing(http: aiohttp.ClientSession, message: dict) -> None:
    """One message, then two edits ANSWER_AFTER_S apart: a bot streaming its answer."""
    chat_id = message["chat"]["id"]
    _, sent = await call(http, "sendMessage", chat_id=chat_id, text="Thinking")
    for text in ("Thinking... half", "Done: 42"):
        await asyncio.sleep(ANSWER_AFTER_S)
        message_id = sent["result"]["message_id"]
        await call(http, "editMessageText", chat_id=chat_id, message_id=message_id, text=text)


async def poll(url: str, answer: Answer) -> None:
    """A bot written directly against the HTTP API, answering each message in turn."""
    offset = 0
    async with aiohttp.ClientSession(url) as http:
        while True:
            _, body = await call(http, "getUpdates", offset=offset, timeout=5)
            for update in body["result"]:
                offset = update["update_id"] + 1
                await answer(http, update["message"])


@contextlib.asynccontextmanager
async def connected() -> AsyncIterator[tuple[Emulator, str, BotApiTransport]]:
    """An emulator on a free port and a transport connected to it; both stopped after."""
    emulator = Emulator()
    url = f"http://127.0.0.1:{await emulator.start('127.0.0.1', 0)}"
    transport = BotApiTransport(url, TOKEN)
    try:
        await transport.connect()
        yield emulator, url, transport
    finally:
        await transport.close()
        await emulator.stop()


async def one_conversation(answer: Answer) -> tuple[Collected, dict]:
    """One conversation (two turns) with a bot that answers with ``answer``: what it
    produced, and the transport's status at its end."""
    collected = Collected()
    async with connected() as (_emulator, url, transport):
        bot = asyncio.create_task(poll(url, answer))
        try:
            chat = scenario("chat", [0.3], pattern="C1 A")
            conversation = run_conversation(transport, chat, "c", Clock(0.1), collected)
            await asyncio.wait_for(conversation, 20)
            status = transport.status()
        finally:
            bot.cancel()
            await asyncio.gather(bot, return_exceptions=True)
    return collected, status


async def test_readings_are_the_emulators_intervals_whatever_its_clock(monkeypatch):
    for module in ("server", "harness_link"):
        monkeypatch.setattr(f"harness.botapi.{module}.Clock", SkewedClock)
    started = Clock.now()
    collected, status = await one_conversation(answer_after_a_pause)
    assert abs(status["clock_offset_ms"] - SKEW_S * 1000) < 5
    assert len(collected.turns) == 2
    for record in collected.turns:
        burst = record.burst
        assert burst.messages_in_reply == 1 and burst.reply_groups == 1
        assert 0 <= burst.first_reply_ms - ANSWER_AFTER_S * 1000 < TOLERANCE_MS
        assert 0 <= burst.send_ms[0] < 5  # half a round trip, on the harness's clock
    # Every line sits on the harness's timeline, not 500 s off it.
    assert all(started <= m.t <= Clock.now() for m in collected.messages)


async def test_a_bot_streaming_by_edits_is_measured_to_its_final_edit():
    collected, _ = await one_conversation(stream_by_editing)
    for record in collected.turns:
        burst = record.burst
        assert burst.messages_in_reply == 1 and burst.edits_in_reply == 2
        spread = burst.complete_reply_ms - burst.first_reply_ms  # two pauses, then the edit
        assert 0 <= spread - 2 * ANSWER_AFTER_S * 1000 < TOLERANCE_MS
    assert [m.text for m in collected.messages if m.edit] == ["Thinking... half", "Done: 42"] * 2
    assert collected.late == {}


async def test_an_emulator_that_is_not_there_is_one_clear_line():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EmulatorUnavailable) as caught:
        await BotApiTransport(url, TOKEN).connect()
    assert str(caught.value) == (
        f"cannot reach the Bot API emulator at {url} (Connection refused); start one with "
        "`harness botapi serve` or let Locust start it with --botapi-serve"
    )


async def test_a_token_the_emulator_refuses_is_named_without_showing_it():
    async with connected() as (_emulator, url, _owner):  # the bot 4242 is now this token's
        with pytest.raises(EmulatorUnavailable) as caught:
            await BotApiTransport(url, "4242:someone-elses").connect()
    assert "refused the bot token" in str(caught.value)
    assert "someone-elses" not in str(caught.value)


async def test_a_closing_window_takes_what_was_stamped_inside_it_and_no_more():
    """Under load a push can wait in the socket after its window's timer fired: the
    window's catch-up collects what the emulator stamped by the window's end."""
    async with connected() as (_emulator, _url, transport):
        session = await transport.open("c", scenario("s", [0.3]))
        end = Clock.now()  # a window closes now
        session.inbox.deliver("inside", 1, t_received=end - 0.001)
        session.inbox.deliver("after", 2, t_received=end + 0.001)
        await session.catch_up(end)
        inside, after = session.inbox.drain()
        assert (inside.text, inside.recovered) == ("inside", True)
        assert (after.text, after.recovered) == ("after", False)


async def test_an_emulator_gone_mid_conversation_ends_it_with_its_own_category():
    async with connected() as (emulator, url, transport):
        session = await transport.open("c", scenario("s", [0.3]))
        await emulator.stop()
        with pytest.raises(EmulatorLost) as caught:
            await session.send("anyone there?")
        assert caught.value.category == "emulator_lost"
        assert str(caught.value) == f"lost the connection to the Bot API emulator at {url}"
        assert transport.status()["connected"] is False
