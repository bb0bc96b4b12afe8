"""Bots that misbehave, through the Bot API emulator: each mistake is counted, the run
goes on, and the report says what happened.

The bots are real aiogram programs (tests/fakes/misbehaving_bot.py, one bug each, run as
subprocesses, killed on every path) that log what they did; the harness's counts must
agree with those logs. The bot too fast for ``--telegram-limits`` (429s) is in
test_botapi_bots.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.records import TRANSCRIBED_PER_TURN
from harness.scenario import Scenario
from tests.support.botapi import (
    REPO,
    bot_process,
    converse_with_bot,
    emulator_stats,
    new_token,
    running_emulator,
)
from tests.support.locust_runs import read_jsonl
from tests.support.observers import Collected

BUGGY = REPO / "tests" / "fakes" / "misbehaving_bot.py"
SCALE = 0.1  # a scenario second is 100 ms


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[str]:
    with running_emulator(tmp_path_factory.mktemp("botapi") / "state.json") as url:
        yield url


def chat(name: str, turns: int = 2, think: float = 3, **collect: float) -> Scenario:
    """One message a turn, each naming its conversation and turn, so the bot's log maps
    back; the reply windows given in scenario seconds."""
    return Scenario.model_validate(
        {
            "name": name,
            "pattern": "C1 A",
            "max_turns": turns,
            "persona": {
                "multi_message_probability": 0,
                "script": {
                    "openers": [f"{name} hello."],
                    "messages": [f"{name} more."],
                    "closings": [f"{name} bye."],
                },
            },
            "timing": {"inter_message_delays": [0.5], "think_time": think},
            "collect": {"first_reply_timeout": 10, "quiet_window": 3, "max_collect": 30, **collect},
            "total_timeout": 10_000,
        }
    )


def buggy(url: str, token: str, bug: str, log: Path, *args: str):
    return bot_process(BUGGY, url, token, "--bug", bug, "--log", str(log), *args)


def errors_of(collected: Collected) -> dict[str, int]:
    counted: dict[str, int] = {}
    for end in collected.ends:
        for (category, _detail), count in end.bot_errors:
            counted[category] = counted.get(category, 0) + count
    return counted


async def test_a_bot_that_answers_twice(emulator, tmp_path):
    token, log = new_token(), tmp_path / "bot.jsonl"
    with buggy(emulator, token, "twice", log):
        collected = await converse_with_bot(
            emulator, token, {name: chat(name) for name in ("a", "b")}, SCALE
        )
    answered = [line for line in read_jsonl(log) if "answered" in line]
    assert len(answered) == 2 * 4  # four bursts, each answered twice
    assert [turn.burst.messages_in_reply for turn in collected.turns] == [2] * 4
    assert errors_of(collected) == {"duplicate_answer": 4}
    assert {end.end_reason for end in collected.ends} == {"max_turns"}


async def test_a_bot_that_answers_a_chat_it_was_not_written_in(emulator, tmp_path):
    """In a group, the bot answers the user's own id: a private chat the user never
    opened. Telegram refuses (403); the group's bursts go unanswered."""
    token, log = new_token(), tmp_path / "bot.jsonl"
    with buggy(emulator, token, "wrong_chat", log):
        collected = await converse_with_bot(
            emulator, token, {"g": chat("g", first_reply_timeout=5)}, SCALE, chat_type="group"
        )
    refused = [line for line in read_jsonl(log) if line.get("refused") == "sendMessage"]
    assert len(refused) == 2 and all("Forbidden" in line["error"] for line in refused)
    assert all(turn.burst.timed_out for turn in collected.turns)
    assert errors_of(collected) == {"forbidden": 2}
    (end,) = collected.ends
    assert end.end_reason == "max_turns"
    assert dict(end.bot_errors) == {
        ("forbidden", "sendMessage: Forbidden: bot can't initiate conversation with a user"): 2
    }


async def test_a_bot_that_edits_a_message_it_never_sent(emulator, tmp_path):
    token, log = new_token(), tmp_path / "bot.jsonl"
    with buggy(emulator, token, "foreign_edit", log):
        collected = await converse_with_bot(emulator, token, {"e": chat("e")}, SCALE)
    refused = [line for line in read_jsonl(log) if line.get("refused") == "editMessageText"]
    assert len(refused) == 2
    (end,) = collected.ends
    assert dict(end.bot_errors) == {
        ("bad_request", "editMessageText: Bad Request: message can't be edited"): 2
    }
    assert not any(turn.burst.timed_out for turn in collected.turns)  # it answered too
    edits = [m for m in collected.messages if m.role == "agent" and m.edit]
    assert edits == []  # nothing was edited: the user's message stayed as written


async def test_a_bot_that_answers_after_a_minute_gives_late_replies_not_turns(emulator, tmp_path):
    """A minute of scenario time late; the reply window is 10 s, the next message comes
    90 s after the window closed: the answer lands in between, a late reply."""
    token, log, scale = new_token(), tmp_path / "bot.jsonl", SCALE / 2
    with buggy(emulator, token, "late", log, "--delay", str(60 * scale)):
        collected = await converse_with_bot(
            emulator, token, {"slow": chat("slow", think=90)}, scale, timeout_s=60
        )
    (end,) = collected.ends
    assert (end.end_reason, end.turns) == ("max_turns", 2)
    assert [turn.burst.timed_out for turn in collected.turns] == [True, True]
    assert collected.late == {("slow", 0): 1}  # the second's came after the conversation
    assert collected.stats.totals().late_replies == 1
    late = [m for m in collected.messages if m.role == "agent"]
    assert [(m.turn, m.text) for m in late] == [(0, "echo: slow hello.")]


async def test_a_bot_that_sends_ten_thousand_messages_to_one_chat(emulator, tmp_path):
    """Counted and timed, every one; kept whole, only the first of each turn: the
    transcript (and the memory behind it) stays bounded."""
    token, log = new_token(), tmp_path / "bot.jsonl"
    flood = chat("flood", turns=1, quiet_window=40, max_collect=3000)
    with buggy(emulator, token, "flood", log, "--count", "10000"):
        collected = await converse_with_bot(emulator, token, {"flood": flood}, SCALE, timeout_s=240)
    assert read_jsonl(log)[-1] == {"flooded": 10_000}
    (turn,) = collected.turns
    assert turn.burst.messages_in_reply == 10_000 and not turn.burst.timed_out
    kept = [m for m in collected.messages if m.role == "agent"]
    assert len(kept) == TRANSCRIBED_PER_TURN
    (end,) = collected.ends
    assert end.untranscribed == 10_000 - TRANSCRIBED_PER_TURN
    totals = collected.stats.totals()
    assert totals.agent_messages == 10_000
    assert totals.agent_messages_untranscribed == 10_000 - TRANSCRIBED_PER_TURN
    evidence = turn.burst.debounce_evidence
    assert evidence is None or len(evidence.arrivals) < TRANSCRIBED_PER_TURN


async def test_a_bot_that_crashes_and_restarts(emulator, tmp_path):
    """It dies on its third message: that burst times out; started again, it fetches what
    waited meanwhile and answers the rest."""
    token, log = new_token(), tmp_path / "bot.jsonl"
    # Seven turns after the crash (some 14 s): a restart on a busy machine (a new Python,
    # aiogram's imports) took longer than the three turns there were.
    crashing = chat("crash", turns=10, first_reply_timeout=10, think=10)
    with contextlib.ExitStack() as bots:
        first = bots.enter_context(buggy(emulator, token, "crash", log, "--crash-after", "2"))

        async def restart_when_dead() -> None:
            assert await asyncio.to_thread(first.wait, 60) == 3
            again = buggy(emulator, token, "crash", log, "--crash-after", "100")
            await asyncio.to_thread(bots.enter_context, again)

        restarted = asyncio.ensure_future(restart_when_dead())
        collected = await converse_with_bot(
            emulator, token, {"crash": crashing}, SCALE, timeout_s=90
        )
        await restarted
    crashed = [line["crashed_on"] for line in read_jsonl(log) if "crashed_on" in line]
    assert crashed == ["crash more."]
    timed_out = [turn.turn for turn in collected.turns if turn.burst.timed_out]
    assert 2 in timed_out
    assert not collected.turns[-1].burst.timed_out  # answered again after the restart
    (end,) = collected.ends
    assert end.end_reason == "max_turns" and end.error is None


def test_a_bot_that_never_polls(emulator, tmp_path, monkeypatch):
    """No bot ever asks for updates with this token: every burst a timeout, and the
    summary says why."""
    token = new_token()
    monkeypatch.setenv("CHATSTORM_BOT_TOKEN", token)
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "silent.yaml").write_text(chat("Silent", first_reply_timeout=5).model_dump_json())
    report = tmp_path / "report"
    command = [sys.executable, "-m", "harness.cli", "run", str(folder), "--repeat", "2"]
    command += ["--transport", "botapi", "--botapi-url", emulator, "--time-scale", str(SCALE)]
    command += ["--report-dir", str(report)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "The bot never called getUpdates" in result.stdout
    totals = json.loads((report / "report.json").read_text())["totals"]
    assert totals["timeouts"] == totals["bursts"] == 4
    assert totals["bot_errors"] == {"never_polled": 4}  # every message, never fetched
    assert "never called getUpdates" in (report / "report.html").read_text()
    assert emulator_stats(emulator)["bots"][token.split(":")[0]]["polling"] is False
    assert "Traceback" not in result.stderr
