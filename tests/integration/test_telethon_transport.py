"""The telethon transport over the local Telegram, against a bot run by the reference agent.

Real Telethon clients, real MTProto on 127.0.0.1, accounts leased from the pool: the
harness's readings must agree with the bot's own log, a flood wait must be its own
category (never latency), and users outnumbering accounts must wait, not collide.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from harness.agent.reference import BatchRecord, ReferenceAgent
from harness.clock import Clock
from harness.conversation import run_conversation
from harness.coord import MemoryAccounts, MemoryLeases
from harness.local_telegram.server import LocalTelegram
from harness.transport.telethon_transport import TelethonTransport
from tests.support.observers import Collected
from tests.support.scenarios import scenario

REPO = Path(__file__).resolve().parents[2]
SCALE = 0.1
NETWORK_MS = 15.0  # the bot's log stamps the send; the harness, the arrival over loopback


@pytest.fixture
async def world():
    telegram = LocalTelegram()
    await telegram.start()
    batches: dict[str, list[BatchRecord]] = defaultdict(list)
    clock = Clock(SCALE)
    agent = ReferenceAgent(
        scenario("x", [0.3]).agent, clock, on_batch=lambda b: batches[b.chat_id].append(b)
    )
    telegram.add_agent_bot("agentbot", agent)
    accounts = MemoryAccounts()
    for n in range(3):
        await accounts.add(telegram.new_account(f"+7900000000{n}"))
    transport = TelethonTransport(
        bot="@agentbot",
        api_id=1,
        api_hash="0" * 32,
        accounts=accounts,
        leases=MemoryLeases(accounts),
        holder="test",
    )
    yield telegram, transport, batches, clock
    await transport.close()
    await telegram.stop()


async def test_readings_agree_with_the_bots_own_log(world):
    _telegram, transport, batches, clock = world
    collected = Collected()
    runs = [("batched", [0.3]), ("premature", [3.0, 0.3]), ("steady", [0.2])]
    await asyncio.wait_for(
        asyncio.gather(
            *(
                run_conversation(transport, scenario(name, delays), name, clock, collected)
                for name, delays in runs
            )
        ),
        30,
    )
    assert {end.end_reason for end in collected.ends} == {"max_turns"}
    logged = [batch for chat in batches.values() for batch in chat]
    checked = 0
    for record in collected.turns:
        burst = record.burst
        assert burst.messages_in_reply == 2  # both parts, collected whole over Telegram
        premature = record.scenario == "premature"
        assert burst.premature_messages == (2 if premature else 0)
        assert burst.reply_groups == (2 if premature else 1)
        # The batch that holds this burst's last message answered it: its first part
        # left the bot first_reply after that message reached the bot.
        last = [
            m
            for m in collected.messages
            if m.conversation_id == record.conversation_id
            and m.turn == record.turn
            and m.role == "client"
        ][-1]
        (batch,) = [
            b
            for b in logged
            if b.received[-1][0] == last.text
            and b.received[-1][0].startswith(record.scenario)
            and abs(b.received[-1][1] - last.t) < 0.05
        ]
        truth_ms = (batch.sent[0][1] - batch.received[-1][1]) * 1000
        assert burst.first_reply_ms == pytest.approx(truth_ms, abs=NETWORK_MS)
        complete_ms = (batch.sent[-1][1] - batch.received[-1][1]) * 1000
        assert burst.complete_reply_ms == pytest.approx(complete_ms, abs=NETWORK_MS)
        checked += 1
    assert checked == 6


async def one_account_transport(
    telegram: LocalTelegram, bot: str, session: str | None = None, **options
) -> TelethonTransport:
    """A transport with a pool of one account of its own: ``session``, or a fresh one."""
    accounts = MemoryAccounts()
    await accounts.add(session or telegram.new_account(f"+7912{len(telegram.accounts):07d}"))
    return TelethonTransport(
        bot=bot,
        api_id=1,
        api_hash="0" * 32,
        accounts=accounts,
        leases=MemoryLeases(accounts),
        holder="mine",
        **options,
    )


async def one_conversation(
    telegram: LocalTelegram, bot: str, name: str, clock: Clock, **options
) -> Collected:
    """One conversation with ``bot`` on a fresh account; what it produced."""
    transport = await one_account_transport(telegram, bot, **options)
    collected = Collected()
    try:
        conversation = scenario(name, [0.3], pattern="C1 A")
        await asyncio.wait_for(
            run_conversation(transport, conversation, name, clock, collected), 20
        )
    finally:
        await transport.close()
    return collected


async def test_a_lost_last_part_is_recovered_before_its_window_closes(world):
    telegram, _transport, _batches, clock = world
    telegram.add_bot("twopart", lambda account, text: [f"{text} / 1", f"{text} / 2"])
    telegram.lose = lambda text: text.endswith(" / 2")  # no later update reveals the gap
    collected = await one_conversation(telegram, "@twopart", "lossy", clock)
    assert [t.burst.messages_in_reply for t in collected.turns] == [2, 2]
    agent_lines = [m.text for m in collected.messages if m.role == "agent"]
    assert sum(text.endswith(" / 2") for text in agent_lines) == 2  # both recovered, once
    assert collected.late == {}


async def test_a_bot_that_streams_by_editing_is_measured_to_its_final_edit(world):
    telegram, _transport, _batches, clock = world
    telegram.add_streaming_bot("streambot", ["Thinking", "Thinking... half", "Done: 42"], 0.1)
    collected = await one_conversation(telegram, "@streambot", "stream", clock)
    for record in collected.turns:
        burst = record.burst
        assert burst.messages_in_reply == 1 and burst.edits_in_reply == 2
        # Two edits 100 ms apart: the final edit lands about 200 ms after the message.
        assert burst.complete_reply_ms - burst.first_reply_ms == pytest.approx(200, abs=40)
    edits = [m.text for m in collected.messages if m.edit]
    assert edits == ["Thinking... half", "Done: 42"] * 2
    assert collected.late == {}


async def test_a_flood_wait_is_its_own_category_and_rests_the_account(world):
    telegram, transport, _batches, clock = world
    collected = Collected()
    telegram.flood_wait_next = 30
    result = await asyncio.wait_for(
        run_conversation(transport, scenario("flood", [0.3]), "flood", clock, collected), 20
    )
    assert result.end_reason == "flood_wait" and "30 s" in result.error
    assert collected.turns == []  # the wait is never a latency
    (rested,) = [a for a in transport._all if a.rested_until > 0]
    floods = {info.account_id: info.floods for info in await transport.accounts.list()}
    assert [seconds for _, seconds in floods[rested.lease.account_id]] == [30]
    # The next conversation gets another account, not the resting one.
    session = await transport.open("next", scenario("next", [0.3]))
    assert session._account is not rested
    await session.close()


async def test_users_outnumbering_accounts_wait_for_one(world):
    _telegram, transport, _batches, _clock = world
    held = [await transport.open(f"c{i}", scenario("s", [0.3])) for i in range(3)]
    waiting = asyncio.create_task(transport.open("c4", scenario("s", [0.3])))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # three accounts, all busy
    assert transport.status() == {
        "accounts_connected": 3,
        "accounts_idle": 0,
        "accounts_set_aside": 0,
        "reconnects": 0,
        "waiting_for_account": {"s": 1},
    }
    await held[0].close()
    fourth = await asyncio.wait_for(waiting, 5)
    assert fourth._account is held[0]._account  # the freed account, reused, still connected
    for session in (*held[1:], fourth):
        await session.close()


async def test_an_account_whose_lease_is_lost_is_dropped_at_once(world):
    telegram, _transport, _batches, _clock = world
    transport = await one_account_transport(telegram, "@agentbot", lease_ttl_s=0.3)
    leases = transport._leases
    try:
        session = await transport.open("c", scenario("s", [0.3]))
        account = session._account
        await leases.release(account.lease)  # stalled past its TTL: someone else took it
        assert await leases.acquire("intruder", 60) is not None
        # The keeper's next renewal (a third of the TTL) finds the lease gone and drops
        # the account; the keeper ends when the drop has run to its end, not cut short.
        await asyncio.wait([account.keeper], timeout=2)
        assert account.keeper.done() and not account.keeper.cancelled()
        assert transport._all == [] and not account.client.is_connected()
        assert await leases.holder_of(account.lease.account_id) == "intruder"
    finally:
        await transport.close()


async def test_slow_mode_is_its_own_category_and_rests_the_account(world):
    telegram, transport, _batches, clock = world
    telegram.slow_mode_next = 12
    collected = Collected()
    result = await asyncio.wait_for(
        run_conversation(transport, scenario("slow", [0.3]), "slow", clock, collected), 20
    )
    assert result.end_reason == "slow_mode" and "12 s" in result.error
    assert collected.turns == []
    (rested,) = [a for a in transport._all if a.rested_until > 0]
    floods = {info.account_id: info.floods for info in await transport.accounts.list()}
    assert floods[rested.lease.account_id] == ()  # slow mode is the chat's, not a flood


async def test_an_account_the_bot_blocked_is_set_aside_for_the_run(world):
    telegram, transport, _batches, clock = world
    session = await transport.open("first", scenario("s", [0.3]))
    blocked = session._account
    await session.close()
    telegram.blocked_by_bot = {_phone_of(telegram, blocked)}
    result = await asyncio.wait_for(
        run_conversation(transport, scenario("b", [0.3]), "b", clock, Collected()), 20
    )
    assert result.end_reason == "bot_blocked_user"
    assert "unblock" in result.error
    assert transport.status()["accounts_set_aside"] == 1
    assert not blocked.client.is_connected()
    # The next conversation runs on another account and the blocked one is never reused.
    result = await asyncio.wait_for(
        run_conversation(transport, scenario("next", [0.3], "C1 A"), "n", clock, Collected()), 20
    )
    assert result.end_reason == "max_turns"
    assert blocked not in transport._all


async def test_a_session_telegram_has_ended_is_retired_when_first_leased(world):
    """Seen: the bot's lookup got AUTH_KEY_UNREGISTERED, the account went back to the
    pool unnamed, and it was leased again and again, each time failing a conversation
    as an ``error`` and an outage of Telegram."""
    telegram, _transport, _batches, clock = world
    transport = await one_account_transport(telegram, "@agentbot", telegram.signed_out_session())
    try:
        result = await run_conversation(transport, scenario("s", [0.3]), "c", clock, Collected())
        assert (result.end_reason, result.outage) == ("account_retired", None)  # not Telegram's
        assert "retired: AuthKeyUnregisteredError" in result.error
        (info,) = await transport.accounts.list()
        assert (info.state, info.retired_reason) == ("retired", "AuthKeyUnregisteredError")
        assert await transport._leases.acquire("anyone", 60) is None  # never leased again
    finally:
        await transport.close()


def _phone_of(telegram: LocalTelegram, account) -> str:
    """The phone number the local Telegram knows a transport account by."""
    return telegram.accounts[account.client.session.auth_key.key_id].phone


async def test_a_connection_lost_mid_turn_is_restored_and_the_turn_marked(world):
    telegram, _transport, _batches, clock = world

    def cut_then_answer(account, text: str) -> list[str]:
        telegram.cut(account.phone, 0.3)  # the reply is pushed into the outage and lost
        return [f"re: {text}"]

    telegram.add_bot("flaky", cut_then_answer)
    collected = await one_conversation(telegram, "@flaky", "flaky", clock)
    assert [end.end_reason for end in collected.ends] == ["max_turns"]
    assert [record.reconnected for record in collected.turns] == [True, True]
    # Both replies reached the conversation once, in their own turn's window.
    assert [t.burst.messages_in_reply for t in collected.turns] == [1, 1]
    agent_lines = [m.text for m in collected.messages if m.role == "agent"]
    assert len(agent_lines) == len(set(agent_lines)) == 2
    assert collected.late == {}


async def test_an_outage_beyond_the_reconnect_budget_ends_the_conversation(world):
    telegram, _transport, _batches, clock = world
    telegram.add_bot("gone", lambda account, text: telegram.cut(account.phone, 60) or [])
    collected = await one_conversation(telegram, "@gone", "gone", clock, reconnect_budget_s=1.0)
    (result,) = collected.ends
    assert result.end_reason == "disconnected"
    assert "no connection to Telegram for 1 s" in result.error
