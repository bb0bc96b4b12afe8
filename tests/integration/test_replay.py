"""Replay personas: importing recorded conversations, generating them with the LLM (the
real SDK against the local Messages API), and serving them with no LLM call, timing kept."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.persona.recordings import (
    RecordingError,
    import_messages,
    read_recordings,
    write_recordings,
)
from harness.persona.services import PersonaServices
from harness.scenario import ScenarioError, load_scenarios
from tests.fakes.anthropic_server import API_KEY, MessagesServer
from tests.support.conversations import SCALE, converse
from tests.support.observers import Collected

REPO = Path(__file__).resolve().parents[2]
HARNESS = [sys.executable, "-m", "harness.cli"]
DAY = "2026-01-31T12:00:"
RECORDED = [
    {"conversation": "a", "role": "user", "text": "hi", "time": f"{DAY}00Z"},
    {"conversation": "a", "role": "user", "text": "my order is late", "time": f"{DAY}02Z"},
    {"conversation": "a", "role": "assistant", "text": "sorry! which one?", "time": f"{DAY}05Z"},
    {"conversation": "a", "role": "user", "text": "#4411", "time": f"{DAY}09Z"},
    {"conversation": "a", "role": "user", "text": "today pls", "time": f"{DAY}10.5Z"},
    {"conversation": "a", "role": "assistant", "text": "resent", "time": f"{DAY}12Z"},
    {"conversation": "b", "role": "customer", "text": "hello", "time": 1000.0},
    {"conversation": "b", "role": "bot", "text": "hi there", "time": 1001.0},
]


def harness(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HARNESS, *args], capture_output=True, text=True, cwd=REPO, timeout=60, env=env
    )


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def replay_scenario(folder: Path, recordings: str, timing: str = "recorded") -> Path:
    path = folder / "replay.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: Replayed
        pattern: "C A"
        max_turns: 5
        persona:
          engine: replay
          replay: {{file: {recordings}, timing: {timing}}}
        timing: {{inter_message_delays: [30], think_time: 30}}
        collect: {{first_reply_timeout: 20, quiet_window: 0.5, max_collect: 30}}
        agent: {{debounce_s: 0.3, think_time_s: 0.2, reply_parts: 1}}
        """),
        encoding="utf-8",
    )
    return path


def test_import_turns_messages_into_conversations_with_relative_times(tmp_path):
    source = write_jsonl(tmp_path / "chats.jsonl", RECORDED)
    result = harness("import", str(source), "--out", str(tmp_path / "replay.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 conversations (8 messages)" in result.stdout
    first, second = read_recordings(tmp_path / "replay.jsonl")
    assert [(m.role, m.t) for m in first.messages] == [
        ("client", 0.0),
        ("client", 2.0),
        ("agent", 5.0),
        ("client", 9.0),
        ("client", 10.5),
        ("agent", 12.0),
    ]
    assert [(m.role, m.t) for m in second.messages] == [("client", 0.0), ("agent", 1.0)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"role": "moderator", "text": "x"}), "role must be one of"),
        (json.dumps({"role": "user", "text": ""}), "text must be a non-empty string"),
        (json.dumps({"role": "user", "text": "x", "time": "yesterday"}), "time must be ISO 8601"),
        (json.dumps(["role", "text"]), "expected a JSON object"),
    ],
)
def test_import_names_the_bad_line_in_one_line(tmp_path, line, message):
    source = tmp_path / "chats.jsonl"
    good = json.dumps({"role": "user", "text": "fine"})
    source.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(RecordingError) as caught:
        import_messages(source)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(f"{source}:3: ") and message in text


def test_the_import_command_exits_2_with_the_one_line_error_and_writes_nothing(tmp_path):
    source = write_jsonl(tmp_path / "chats.jsonl", [{"role": "moderator", "text": "x"}])
    result = harness("import", str(source), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr == f"chatstorm: {source}:1: role must be one of agent, assistant, "
        "bot, client, customer, human, user, got 'moderator'\n"
    )
    assert not (tmp_path / "out.jsonl").exists()


def test_a_replay_scenario_needs_an_existing_file_reported_at_its_line(tmp_path):
    path = replay_scenario(tmp_path, "missing.jsonl")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([path])
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (6, "persona.replay.file")
    assert "harness generate" in problem.message and "missing.jsonl" in problem.message


async def play(scenario_path: Path, count: int = 1) -> Collected:
    (scenario,) = load_scenarios([scenario_path])
    return await converse(PersonaServices(), scenario, count, prefix="r")


def record(tmp_path: Path, rows: list[dict]) -> None:
    """``rows`` imported into the replay file the scenarios here play (replay.jsonl)."""
    write_recordings(
        tmp_path / "replay.jsonl", import_messages(write_jsonl(tmp_path / "in.jsonl", rows))
    )


async def test_replay_serves_recorded_bursts_with_their_timing(tmp_path):
    record(tmp_path, RECORDED)
    collected = await play(replay_scenario(tmp_path, "replay.jsonl"), count=2)
    assert collected.texts("r0") == ["hi", "my order is late", "#4411", "today pls"]
    assert collected.texts("r1") == ["hello"]  # the second recording, round robin
    ends = {result.conversation_id: (result.end_reason, result.turns) for result in collected.ends}
    assert ends == {"r0": ("persona_ended", 2), "r1": ("persona_ended", 1)}
    sent = {e.text: e.t for e in collected.messages if e.role == "client"}
    replies = [
        e.t for e in collected.messages if (e.conversation_id, e.role, e.turn) == ("r0", "agent", 0)
    ]
    # Recorded: 2 s between the first two messages, 1.5 s between the last two, 4 s from
    # the agent's answer to the next burst (the scenario would pause 30 s instead).
    assert sent["my order is late"] - sent["hi"] == pytest.approx(2 * SCALE, abs=0.02)
    assert sent["today pls"] - sent["#4411"] == pytest.approx(1.5 * SCALE, abs=0.02)
    collected_reply_end = replies[-1] + 0.5 * SCALE  # the quiet window closes the reply
    assert sent["#4411"] - collected_reply_end == pytest.approx(4 * SCALE, abs=0.03)
    usage = collected.usage("Replayed")
    assert usage.replayed_bursts == 3 and usage.requests == 0 and usage.cost_nano_usd == 0


async def test_replay_with_scenario_timing_ignores_the_recorded_times(tmp_path):
    record(tmp_path, RECORDED[:2])
    collected = await play(replay_scenario(tmp_path, "replay.jsonl", timing="scenario"))
    sent = {e.text: e.t for e in collected.messages if e.role == "client"}
    assert sent["my order is late"] - sent["hi"] == pytest.approx(30 * SCALE, abs=0.03)


def test_generate_records_llm_conversations_that_replay_with_no_request(tmp_path, monkeypatch):
    scenario = tmp_path / "llm.yaml"
    scenario.write_text(
        textwrap.dedent("""\
        name: Generated
        pattern: "C2 A"
        max_turns: 2
        persona: {engine: llm, llm: {model: claude-haiku-4-5}}
        timing: {inter_message_delays: [0.1], think_time: 0.1}
        collect: {first_reply_timeout: 20, quiet_window: 1, max_collect: 30}
        agent: {debounce_s: 0.5, think_time_s: 0.2, reply_parts: 1}
        """),
        encoding="utf-8",
    )
    env = {"PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": API_KEY}
    with MessagesServer() as server:
        result = harness(
            "generate", "--scenario", str(scenario), "--count", "3",
            "--out", str(tmp_path / "generated.jsonl"), "--llm-base-url", server.url,
            "--llm-cache-dir", str(tmp_path / "cache"), "--time-scale", "0.05",
            env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert len(server.api.answered) == 6  # 3 conversations x 2 turns
        assert API_KEY not in result.stdout + result.stderr
        recordings = read_recordings(tmp_path / "generated.jsonl")
        assert len(recordings) == 3
        for recording in recordings:
            client = [m.text for m in recording.messages if m.role == "client"]
            assert client == [f"turn {t} message {k} of 2" for t in (0, 1) for k in (1, 2)]
            assert all(m.t is None for m in recording.messages)  # LLM latency is no pause
        collected = asyncio.run(play(replay_scenario(tmp_path, "generated.jsonl"), count=3))
        assert len(server.api.requests) == 6  # replay asked nothing
    assert collected.usage("Replayed").replayed_bursts == 6


def test_the_shipped_examples_are_valid_and_stay_out_of_the_demo():
    examples = {s.name: s for s in load_scenarios([REPO / "examples" / "llm"])}
    assert examples["LLM Lost Order"].persona.engine == "llm"
    assert examples["Replayed Support"].persona.engine == "replay"
    shipped = load_scenarios([REPO / "scenarios"])  # what `make demo` runs: no API key needed
    assert all(scenario.persona.engine == "scripted" for scenario in shipped)
