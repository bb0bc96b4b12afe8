"""The telethon transport over the local Telegram, against a bot run by the reference agent.

Real Telethon clients, real MTProto on 127.0.0.1, accounts leased from the pool: the
harness's readings must agree with the bot's own log, a flood wait must be its own
category (never latency), and users outnumbering accounts must wait, not collide.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from telethon.tl import functions

from harness.agent.reference import BatchRecord, ReferenceAgent
from harness.clock import Clock
from harness.conversation import run_conversation
from harness.coord import MemoryAccounts, MemoryLeases, RedisUnavailable, connect_redis
from harness.scenario import Scenario
from harness.transport.telethon_transport import TelethonTransport
from tests.fakes.telegram_server import FakeTelegram
from tests.support.locust_runs import free_port
from tests.support.observers import Collected
from tests.support.scenarios import scenario
from tests.support.stop_timing import seconds_after_run_time

REPO = Path(__file__).resolve().parent.parent
SCALE = 0.1
NETWORK_MS = 15.0  # the bot's log stamps the send; the harness, the arrival over loopback


@pytest.fixture
async def world():
    telegram = FakeTelegram()
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


async def one_account_transport(telegram: FakeTelegram, bot: str, **options) -> TelethonTransport:
    """A transport with a pool of one fresh account of its own."""
    accounts = MemoryAccounts()
    await accounts.add(telegram.new_account(f"+7912{len(telegram.accounts):07d}"))
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
    telegram: FakeTelegram, bot: str, name: str, clock: Clock, **options
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


async def locust_over_telegram(
    telegram: FakeTelegram,
    tmp_path: Path,
    conversation: Scenario,
    bot: str,
    users: int,
    duration: str,
    api_hash: str = "0" * 32,
    conversations_per_user: int | None = 1,
    timeout_s: float = 60,
    extra: tuple[str, ...] = (),
) -> tuple[int, bytes, Path, float]:
    """A headless Locust run (a subprocess) over the local Telegram, an account per user,
    each holding ``conversations_per_user`` conversations (None: as many as fit). Returns
    the exit code, everything printed, the report folder and the seconds from the end of
    -t to the process's exit."""
    accounts = tmp_path / "accounts.txt"
    accounts.write_text(
        "# test accounts\n"
        + "\n".join(telegram.new_account(f"+7911000{n:04d}") for n in range(users))
        + "\n"
    )
    accounts.chmod(0o600)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario.yaml").write_text(conversation.model_dump_json())
    report = tmp_path / "report"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "locustfiles" / "telegram.py"),
        *f"--headless -u {users} -r {users} -t {duration}".split(),
        *(
            []
            if conversations_per_user is None
            else ["--conversations-per-user", str(conversations_per_user)]
        ),
        "--scenario",
        str(scenarios),
        "--time-scale",
        str(SCALE),
        "--transport",
        "telethon",
        "--bot",
        bot,
        "--api-id",
        "1",
        "--accounts-file",
        str(accounts),
        "--report-dir",
        str(report),
        "--only-summary",
        *extra,
        env={**os.environ, "TG_API_HASH": api_hash},
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
        exited_at = time.time()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    printed = out + err
    stop_s = seconds_after_run_time(printed.decode(errors="replace"), exited_at)
    return process.returncode, printed, report, stop_s


async def test_a_locust_run_over_telegram_reports_what_the_bot_logged(tmp_path):
    """Locust (a subprocess) drives three real accounts through the local Telegram."""
    telegram = FakeTelegram()
    await telegram.start()
    logged: list[BatchRecord] = []
    agent = ReferenceAgent(scenario("x", [0.3]).agent, Clock(SCALE), on_batch=logged.append)
    telegram.add_agent_bot("agentbot", agent)
    secret = "f" * 32
    try:
        code, printed, report_dir, _ = await locust_over_telegram(
            telegram, tmp_path, scenario("Batched", [0.3]), "@agentbot", 3, "6s", secret
        )
    finally:
        await telegram.stop()
    assert code == 0, printed.decode()[-3000:]
    report = json.loads((report_dir / "report.json").read_text())
    totals = report["totals"]
    assert report["run"]["transport"] == "telethon"
    assert totals["conversations"] == 3 and totals["conversations_interrupted"] == 0
    assert totals["bursts"] == len(logged) == 6  # one batch per burst: the bot batched each
    assert totals["client_messages"] == sum(len(b.received) for b in logged)
    assert totals["agent_messages"] == sum(len(b.sent) for b in logged)
    assert totals["reply_groups_per_burst"] == {"1": 6}
    nominal = (1.0 + 0.5) * SCALE * 1000
    assert totals["latency_ms"]["first_reply"]["p50"] == pytest.approx(nominal, abs=NETWORK_MS)
    everything = printed + b"".join(path.read_bytes() for path in report_dir.iterdir())
    assert secret.encode() not in everything  # the api_hash is never written anywhere


async def test_in_locust_a_flood_wait_is_its_own_failure_row_never_a_latency(tmp_path):
    telegram = FakeTelegram()
    await telegram.start()
    telegram.add_bot("echobot", lambda account, text: ["ok"])
    telegram.flood_wait_next = 5
    try:
        code, printed, report_dir, _ = await locust_over_telegram(
            telegram, tmp_path, scenario("Flooded", [0.3], pattern="C1 A"), "@echobot", 1, "3s"
        )
    finally:
        await telegram.stop()
    assert code == 1  # a Locust failure, without objectives to tolerate it
    assert re.search(r"^flood_wait\s+Flooded\s+1\s+1\(100", printed.decode(), re.MULTILINE)
    totals = json.loads((report_dir / "report.json").read_text())["totals"]
    assert totals["end_reasons"] == {"flood_wait": 1}
    assert totals["latency_ms"]["first_reply"]["count"] == 0  # the wait is no latency


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


def _phone_of(telegram: FakeTelegram, account) -> str:
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


async def test_in_locust_a_turn_across_a_reconnect_is_marked_never_a_latency(tmp_path):
    telegram = FakeTelegram()
    await telegram.start()

    def cut_then_answer(account, text: str) -> list[str]:
        telegram.cut(account.phone, 0.3)
        return [f"re: {text}"]

    telegram.add_bot("flaky", cut_then_answer)
    try:
        code, printed, report_dir, _ = await locust_over_telegram(
            telegram, tmp_path, scenario("Flaky", [0.3], pattern="C1 A"), "@flaky", 1, "4s"
        )
    finally:
        await telegram.stop()
    output = printed.decode()
    assert code == 1  # the reconnect rows are failures, without objectives to tolerate them
    assert re.search(r"^reconnect\s+Flaky\s+2\s+2\(100", output, re.MULTILINE), output[-3000:]
    totals = json.loads((report_dir / "report.json").read_text())["totals"]
    assert totals["bursts_reconnected"] == 2 and totals["bursts"] == 0
    assert totals["client_messages"] == totals["agent_messages"] == 2  # nothing lost
    assert totals["latency_ms"]["first_reply"]["count"] == 0
    assert "2 burst(s) spanned a reconnect" in output


RUNS_IN_A_ROW = 3  # the drop on getHistory hung two runs in three before the fix
FAULT_RUN_S = 8


async def faulty_runs(tmp_path: Path, fault) -> list[tuple[int, str, dict, float, dict]]:
    """Headless runs in a row, four accounts against the batching bot on a local Telegram
    that ``fault`` breaks. For each: exit code, output, report, seconds from the end of -t
    to exit, and the bot's batches per account."""
    runs = []
    for attempt in range(RUNS_IN_A_ROW):
        telegram = FakeTelegram()
        await telegram.start()
        logged: list[BatchRecord] = []
        agent = ReferenceAgent(scenario("x", [0.3]).agent, Clock(SCALE), on_batch=logged.append)
        telegram.add_agent_bot("agentbot", agent)
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        fault(telegram)
        try:
            code, printed, report_dir, stop_s = await locust_over_telegram(
                telegram,
                folder,
                scenario("Batched", [0.3]),
                "@agentbot",
                4,
                f"{FAULT_RUN_S}s",
                conversations_per_user=None,
                timeout_s=FAULT_RUN_S + 60,
            )
        finally:
            await telegram.stop()
        report = json.loads((report_dir / "report.json").read_text())
        for line in (report_dir / "transcripts.jsonl").read_text().splitlines():
            json.loads(line)  # every line whole
        phones = {account.user_id: account.phone for account in telegram.accounts.values()}
        by_account = Counter(phones[int(batch.chat_id)] for batch in logged)
        runs.append((code, printed.decode(errors="replace"), report, stop_s, by_account))
    return runs


def drop_one_accounts_line_on_every_catch_up(telegram: FakeTelegram) -> None:
    telegram.drop_on(functions.messages.GetHistoryRequest, times=10**6, phone="+79110000000")


async def test_a_line_that_drops_on_every_catch_up_breaks_one_account_not_the_run(tmp_path):
    """Seen: the first drop froze the process in a busy loop (no account sent again), the
    stop's wait raised out of Locust's listener and the run never exited, with no report."""
    for code, printed, report, stop_s, by_account in await faulty_runs(
        tmp_path, drop_one_accounts_line_on_every_catch_up
    ):
        print(f"stop_s={stop_s:.2f}")  # for the figures: pytest -s
        assert stop_s < 30, printed[-3000:]
        assert "Traceback" not in printed
        assert code in (0, 1), printed[-3000:]
        healthy = {phone: n for phone, n in by_account.items() if phone != "+79110000000"}
        assert len(healthy) == 3 and min(healthy.values()) >= 5, by_account
        totals = report["totals"]
        counted = sum(totals[key] for key in ("bursts", "bursts_reconnected", "bursts_interrupted"))
        assert counted >= sum(healthy.values()), (totals, by_account)
        assert totals["conversations"] >= 4


async def test_a_telegram_gone_silent_fails_sends_and_raises_the_alarm(tmp_path):
    """Seen: sends never completed and nothing reported a failure (exit 0)."""
    for code, printed, report, stop_s, _by_account in await faulty_runs(
        tmp_path, lambda telegram: telegram.go_silent(after_sends=12)
    ):
        print(f"stop_s={stop_s:.2f}")  # for the figures: pytest -s
        assert stop_s < 30, printed[-3000:]
        assert "Traceback" not in printed
        assert code == 1  # send timeouts are Locust failures
        totals = report["totals"]
        assert totals["end_reasons"].get("send_timeout", 0) >= 4, totals["end_reasons"]
        assert re.search(r"^send_timeout\s+Batched\s+\d+\s+\d+\(100", printed, re.MULTILINE)
        assert totals["bursts"] >= 2  # those before the silence are counted
        alarm = printed.count("no traffic from Telegram for 60 s: ")
        assert alarm == 1, printed[-3000:]


async def test_redis_dying_mid_run_is_said_once_and_the_run_still_ends(tmp_path):
    """The account pool's Redis (a private redis-server) is killed mid-run: lease renewals
    fail within their TTL and the accounts go on, the outage is one line, and the stop,
    whose lease releases fail too, still ends on time with the report."""
    port = free_port()
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        await wait_for_redis(url)
        telegram = FakeTelegram()
        await telegram.start()
        sent = itertools.count(1)

        def answer_then_kill_redis(account, text: str) -> list[str]:
            if next(sent) == 12:
                redis_server.kill()
            return [f"re: {text}"]

        telegram.add_bot("echobot", answer_then_kill_redis)
        try:
            code, printed, report_dir, stop_s = await locust_over_telegram(
                telegram,
                tmp_path,
                scenario("Pooled", [0.3], pattern="C1 A"),
                "@echobot",
                3,
                "8s",
                conversations_per_user=None,
                extra=("--redis-url", url, "--redis-prefix", "chatstorm-test-redis-dies"),
            )
        finally:
            await telegram.stop()
    finally:
        redis_server.kill()
        redis_server.wait()
    output = printed.decode()
    print(f"stop_s={stop_s:.2f}")  # for the figures: pytest -s
    assert stop_s < 30, output[-3000:]
    assert "Traceback" not in output
    assert output.count("chatstorm: Redis is unreachable") == 1, output[-3000:]
    totals = json.loads((report_dir / "report.json").read_text())["totals"]
    assert totals["bursts"] > 12  # the leased accounts went on without Redis
    assert code == 0, output[-3000:]


async def wait_for_redis(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            client = await connect_redis(url)
        except RedisUnavailable:
            assert time.monotonic() < deadline, "the private redis-server did not start"
            await asyncio.sleep(0.05)
        else:
            await client.aclose()
            return
