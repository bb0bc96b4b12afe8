"""The local Telegram speaks the real protocol: unmodified Telethon works against it.

Later tests drive the harness's Telethon transport through this endpoint, so first it
must hold up on its own: identity, username resolution, sending, bot replies pushed as
updates, a lost push recovered through getDifference, and Telegram's errors arriving
as Telethon's own exceptions.
"""

from __future__ import annotations

import asyncio

import pytest
from telethon import TelegramClient, errors, events
from telethon.sessions import StringSession

from harness.local_telegram.server import LocalTelegram

API_HASH = "0" * 32


@pytest.fixture
async def telegram():
    server = LocalTelegram()
    await server.start()
    server.add_bot("echobot", lambda account, text: [f"echo: {text}", "part 2", "part 3"])
    yield server
    await server.stop()


async def connected(telegram: LocalTelegram, session: str | None = None):
    client = TelegramClient(
        StringSession(session or telegram.new_account("+79001234567")),
        1,
        API_HASH,
        flood_sleep_threshold=0,
        raise_last_call_error=True,
    )
    inbox: asyncio.Queue[str] = asyncio.Queue()
    client.add_event_handler(lambda e: inbox.put(e.raw_text), events.NewMessage(incoming=True))
    await asyncio.wait_for(client.connect(), 10)
    return client, inbox


async def replies(inbox: asyncio.Queue, count: int) -> list[str]:
    return [await asyncio.wait_for(inbox.get(), 10) for _ in range(count)]


async def test_telethon_identifies_resolves_sends_and_receives_a_multi_part_reply(telegram):
    client, inbox = await connected(telegram)
    try:
        me = await client.get_me()
        assert me.phone == "+79001234567" and not me.bot
        bot = await client.get_entity("@echobot")
        assert bot.bot and bot.username == "echobot"
        await client.send_message(bot, "hello")
        assert await replies(inbox, 3) == ["echo: hello", "part 2", "part 3"]
    finally:
        await client.disconnect()


async def test_a_lost_update_push_is_recovered_through_get_difference(telegram):
    client, inbox = await connected(telegram)
    try:
        await client.send_message("@echobot", "warm up")
        await replies(inbox, 3)
        calls_before = telegram.difference_calls
        telegram.drop_pushes = 1  # "echo: again" never arrives as a push
        await client.send_message("@echobot", "again")
        assert sorted(await replies(inbox, 3)) == ["echo: again", "part 2", "part 3"]
        assert telegram.difference_calls > calls_before
    finally:
        await client.disconnect()


async def test_flood_and_peer_flood_arrive_as_telethons_own_errors(telegram):
    client, _ = await connected(telegram)
    try:
        telegram.flood_wait_next = 17
        with pytest.raises(errors.FloodWaitError) as flood:
            await client.send_message("@echobot", "too fast")
        assert flood.value.seconds == 17
    finally:
        await client.disconnect()
    # Telethon then refuses further sends on its own until the wait is over, so the
    # peer flood is shown with another account.
    other, _ = await connected(telegram, telegram.new_account("+79005550000"))
    try:
        telegram.peer_flood_next = True
        with pytest.raises(errors.PeerFloodError):
            await other.send_message("@echobot", "spam?")
    finally:
        await other.disconnect()


async def test_one_auth_key_from_two_places_is_refused(telegram):
    session = telegram.new_account("+79007654321")
    first, _ = await connected(telegram, session)
    second = TelegramClient(StringSession(session), 1, API_HASH, flood_sleep_threshold=0)
    try:
        await first.get_me()
        with pytest.raises(errors.AuthKeyDuplicatedError):
            await asyncio.wait_for(second.connect(), 10)
    finally:
        await first.disconnect()
        await second.disconnect()
