"""Real bots (python-telegram-bot, aiogram) against the Bot API emulator, driven by the
botapi transport in process and by Locust in a subprocess.

The bots are unmodified framework programs (examples/bots/), pointed at the emulator by
their documented base-URL options, run as subprocesses and always killed. The batching
bot keeps its own log, stamped with the same monotonic clock as the emulator (one
machine): the harness's readings must agree with it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.scenario import Scenario
from tests.support.botapi import (
    REPO,
    bot_process,
    converse_with_bot,
    emulator_stats,
    new_token,
    running_emulator,
    serve_emulator,
    stopped_at_exit,
)
from tests.support.fleet import locust_master
from tests.support.locust_runs import (
    LOCUST,
    free_port,
    locust,
    read_jsonl,
    run_headless,
    wait_for,
    worker_file,
)
from tests.support.observers import Collected
from tests.support.scenarios import scenario
from tests.support.stop_timing import Lines, seconds_after_run_end

BOTS = REPO / "examples" / "bots"
SCALE = 0.2  # pauses of 60 ms inside a burst, quiet windows of 300 ms, in real time
# The bot's debounce (0.3 s) is longer than the pauses; after showing "typing" it thinks
# longer (0.35 s) than a quiet window: typing alone must not close a reply window.
DEBOUNCE_S, THINK_S, PARTS, GAP_S = 0.3, 0.35, 2, 0.05
# The bot stamps what it did; the emulator, when the bot's call reached it: an HTTP call
# later, a few ms (tens on a loaded machine). A reading taken from the burst's first
# message, not its last, would be 120 ms off.
CALL_MS = 80.0


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[str]:
    """``harness botapi serve`` in a subprocess; its URL."""
    with running_emulator(tmp_path_factory.mktemp("botapi") / "state.json") as url:
        yield url


def bot(script: str, url: str, token: str, *args: str):
    """A bot program from examples/bots, running until it polls (or its webhook is set)."""
    return bot_process(BOTS / script, url, token, *args)


def batching_bot(url: str, token: str, log: Path, *extra: str):
    timing = f"--debounce {DEBOUNCE_S} --think {THINK_S} --parts {PARTS} --gap {GAP_S}"
    return bot("ptb_batching_bot.py", url, token, "--log", str(log), *timing.split(), *extra)


async def converse(url: str, token: str, conversations: dict[str, Scenario]) -> Collected:
    return await converse_with_bot(url, token, conversations, SCALE)


async def test_readings_agree_with_the_python_telegram_bot_log(emulator, tmp_path):
    token, log = new_token(), tmp_path / "bot.jsonl"
    with batching_bot(emulator, token, log):
        collected = await converse(
            emulator, token, {name: scenario(name, [0.3]) for name in ("a", "b", "c")}
        )
    assert {end.end_reason for end in collected.ends} == {"max_turns"}
    batches = read_jsonl(log)
    assert len(batches) == len(collected.turns) == 6  # one batch per burst: batched
    for record in collected.turns:
        burst = record.burst
        assert burst.reply_groups == 1 and burst.messages_in_reply == PARTS
        assert burst.premature_messages == 0
        sent = [
            m
            for m in collected.messages
            if m.conversation_id == record.conversation_id
            and m.turn == record.turn
            and m.role == "client"
        ]
        chat = [b for b in batches if b["received"][0]["text"].startswith(record.scenario)]
        batch = sorted(chat, key=lambda b: b["t_closed"])[record.turn]
        assert [m["text"] for m in batch["received"]] == [m.text for m in sent]
        # One machine, one monotonic clock: the bot got the last message after the harness
        # had it acknowledged, and each of its calls reached the emulator after the bot
        # made it; never the reverse.
        assert batch["received"][-1]["t"] >= sent[-1].t
        for reading, bot_did_it in (
            (burst.first_reply_ms, batch["sent"][0]["t"]),
            (burst.complete_reply_ms, batch["sent"][-1]["t"]),
            (burst.first_action_ms, batch["t_typing"]),
        ):
            assert 0 <= reading - (bot_did_it - sent[-1].t) * 1000 < CALL_MS
        assert burst.actions == 1
    agent_lines = [m for m in collected.messages if m.role == "agent" and m.action is None]
    assert len(agent_lines) == 6 * PARTS


async def test_a_real_bots_conversations_are_judged(emulator, tmp_path):
    token, log = new_token(), tmp_path / "bot.jsonl"
    judged = scenario("j", [0.3]).model_dump()
    judged.update(
        outcomes=[{"label": "answered", "agent_regex": r"^part \d$"}],
        termination_conditions=[{"type": "user_expresses_satisfaction", "keywords": ["bye"]}],
        turn_evaluations=[{"type": "string_contains", "value": "part 2"}],
        final_evaluations=[{"type": "execution_time", "max_ms": 5000}],
    )
    with batching_bot(emulator, token, log):
        collected = await converse(emulator, token, {"j": Scenario.model_validate(judged)})
    (result,) = collected.ends
    judgment = result.judgment
    assert (result.end_reason, result.turns) == ("user_expresses_satisfaction", 2)  # "j bye."
    assert judgment.success and judgment.outcome == "answered"
    assert [e.verdict for e in judgment.evaluations] == ["pass", "pass", "pass"]
    assert len(read_jsonl(log)) == 2  # the bot answered each burst once, as judged


def test_harness_run_over_botapi_judges_the_real_bot(emulator, tmp_path, monkeypatch):
    token, log = new_token(), tmp_path / "bot.jsonl"
    monkeypatch.setenv("CHATSTORM_BOT_TOKEN", token)  # not on the command line
    judged = scenario("FunctionalBot", [0.3]).model_dump(mode="json")
    judged["turn_evaluations"] = [{"type": "string_contains", "value": "part 2"}]
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "bot.yaml").write_text(json.dumps(judged))
    command = [sys.executable, "-m", "harness.cli", "run", str(folder), "--repeat", "3"]
    command += ["--transport", "botapi", "--botapi-url", emulator, "--time-scale", str(SCALE)]
    with batching_bot(emulator, token, log):
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "always passes (3)" in result.stdout
    assert len(read_jsonl(log)) == 3 * 2  # every burst of every conversation, answered once
    assert token not in result.stdout + result.stderr


async def test_commands_reach_a_command_handler(emulator, tmp_path):
    token = new_token()
    settings = scenario("cmd", [0.3], pattern="C1 A").model_dump()
    settings["max_turns"] = 1
    settings["persona"]["script"]["closings"] = ["/start load test"]  # its only turn
    start = Scenario.model_validate(settings)
    with batching_bot(emulator, token, tmp_path / "bot.jsonl"):
        collected = await converse(emulator, token, {"cmd": start})
    replies = [m.text for m in collected.messages if m.role == "agent"]
    assert replies == ["started with load test"]  # not batched as text: no typing, no parts


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_an_aiogram_bot_by_polling_and_by_webhook(emulator, mode):
    token = new_token()
    args = ("--webhook-port", str(free_port())) if mode == "webhook" else ()
    with bot("aiogram_echo_bot.py", emulator, token, *args):
        figures = emulator_stats(emulator)["bots"][token.split(":")[0]]
        assert figures["webhook"] is (mode == "webhook")
        chat = scenario(mode, [0.3], pattern="C1 A")
        collected = await converse(emulator, token, {mode: chat})
    client = [m.text for m in collected.messages if m.role == "client"]
    agent = [m.text for m in collected.messages if m.role == "agent" and m.action is None]
    assert agent == [f"echo: {text}" for text in client] and len(agent) == 2
    assert all(t.burst.actions == 1 for t in collected.turns)  # its typing, measured


def test_a_locust_run_over_botapi_agrees_with_the_bots_log(emulator, tmp_path, monkeypatch):
    token, log = new_token(), tmp_path / "bot.jsonl"
    monkeypatch.setenv("CHATSTORM_BOT_TOKEN", token)  # not on the command line
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "batched.yaml").write_text(scenario("Batched", [0.3]).model_dump_json())
    report = tmp_path / "report"
    with batching_bot(emulator, token, log):
        result = run_headless(
            scenarios,
            *f"--transport botapi --botapi-url {emulator} --conversations-per-user 1".split(),
            "--report-dir",
            str(report),
            users=3,
            duration="6s",
            scale=SCALE,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads((report / "report.json").read_text())
    totals, batches = figures["totals"], read_jsonl(log)
    assert figures["run"]["transport"] == "botapi"
    assert totals["conversations"] == 3 and totals["conversations_interrupted"] == 0
    assert totals["bursts"] == len(batches) == 6
    assert totals["client_messages"] == sum(len(b["received"]) for b in batches)
    assert totals["agent_messages"] == sum(len(b["sent"]) for b in batches) == 6 * PARTS
    assert totals["reply_groups_per_burst"] == {"1": 6}
    assert totals["messages_per_reply"] == {str(PARTS): 6}
    assert totals["chat_actions"] == 6
    truths = sorted((b["sent"][0]["t"] - b["received"][-1]["t"]) * 1000 for b in batches)
    first = totals["latency_ms"]["first_reply"]
    assert truths[0] <= first["p50"] <= truths[-1] + CALL_MS
    assert totals["latency_ms"]["first_action"]["count"] == 6
    secret = token.split(":")[1]
    everything = result.stdout + result.stderr
    everything += "".join(p.read_text() for p in report.iterdir() if p.is_file())
    assert secret not in everything  # the token is never printed nor written


def test_with_limits_a_bot_too_fast_gets_429_and_the_report_counts_it(tmp_path):
    """The emulator inside Locust (--botapi-serve), Telegram's limits on, and a bot that
    sends six parts at once and ignores the 429s."""
    token, log = new_token(), tmp_path / "bot.jsonl"
    url = f"http://127.0.0.1:{free_port()}"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    settings = scenario("Flooding", [0.3], pattern="C1 A").model_dump()
    settings["max_turns"] = 1  # a second burst would land inside the retry_after: unanswered
    settings["collect"]["first_reply_timeout"] = 100  # the bot starts after Locust
    (scenarios / "flooding.yaml").write_text(json.dumps(settings))
    report = tmp_path / "report"
    locust = subprocess.Popen(
        [
            *LOCUST,
            "--headless",
            *["-u", "2", "-r", "2", "-t", "8s", "--conversations-per-user", "1"],
            "--only-summary",
            *f"--scenario {scenarios} --time-scale {SCALE} --report-dir {report}".split(),
            *f"--transport botapi --botapi-serve --botapi-url {url} --telegram-limits".split(),
            "--botapi-state",
            str(tmp_path / "state.json"),
        ],
        cwd=REPO,
        env={**os.environ, "CHATSTORM_BOT_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with stopped_at_exit(locust):
        wait_for_served_emulator(url, locust)
        args = ("--log", str(log), "--parts", "6", "--debounce", "0.05", "--too-fast")
        with bot("ptb_batching_bot.py", url, token, *args):
            out, err = locust.communicate(timeout=60)
    assert locust.returncode == 1, err[-3000:]  # the bot's 429s are failures of the run
    totals = json.loads((report / "report.json").read_text())["totals"]
    refused = sum(b["refused"] for b in read_jsonl(log))
    assert refused > 0
    errors = totals["bot_errors"]
    assert errors["rate_limited"] + errors["retry_after_ignored"] == refused
    assert errors["retry_after_ignored"] > 0  # it carried on inside its retry_after
    assert re.search(r"^rate_limited\s+Flooding\s+\d+\s+\d+\(100", err, re.MULTILINE)
    assert "429 Too Many Requests" in err
    assert "Bot errors (what the emulator saw it do wrong): rate_limited" in out


def wait_for_served_emulator(url: str, locust: subprocess.Popen) -> None:
    """Until the emulator a Locust process serves (--botapi-serve) answers at ``url``."""
    deadline = time.monotonic() + 30
    while True:
        try:
            emulator_stats(url)
            return
        except OSError:
            assert locust.poll() is None, locust.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "Locust's emulator did not start"
            time.sleep(0.05)


def test_a_master_serves_the_emulator_and_its_workers_load_the_bot_through_it(tmp_path):
    """--botapi-serve on a real master, two real workers over --transport botapi to it, a
    real bot polling it: the master's report is the whole fleet's and equals the bot's log."""
    token, log = new_token(), tmp_path / "bot.jsonl"
    url = f"http://127.0.0.1:{free_port()}"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    settings = scenario("Batched", [0.3]).model_dump()
    settings["collect"]["first_reply_timeout"] = 100  # the bot starts after the master
    (scenarios / "batched.yaml").write_text(json.dumps(settings))
    common = [
        *f"--scenario {scenarios} --time-scale {SCALE} --conversations-per-user 1".split(),
        *f"--transport botapi --botapi-url {url}".split(),
    ]
    env = {**os.environ, "CHATSTORM_BOT_TOKEN": token}
    with locust_master(
        *common,
        *["-u", "4", "-r", "4", "-t", "8s", "--expect-workers", "2", "--only-summary"],
        *["--botapi-serve", "--report-dir", str(tmp_path / "master")],
        env=env,
    ) as fleet:
        wait_for_served_emulator(url, fleet.master)
        with batching_bot(url, token, log):
            for name in ("w1", "w2"):
                fleet.add_worker(*common, "--worker-report-dir", str(tmp_path / name))
            out, err, _ = fleet.finish(timeout=60)
    master = fleet.master
    assert master.returncode == 0, err[-3000:]
    figures = json.loads((tmp_path / "master" / "report.json").read_text())
    totals, batches = figures["totals"], read_jsonl(log)
    assert figures["run"]["workers"] == 2
    assert totals["conversations"] == 4 and totals["conversations_interrupted"] == 0
    assert totals["bursts"] == len(batches) == 8
    assert totals["client_messages"] == sum(len(b["received"]) for b in batches)
    assert totals["agent_messages"] == sum(len(b["sent"]) for b in batches) == 8 * PARTS
    assert totals["reply_groups_per_burst"] == {"1": 8}
    for name in ("w1", "w2"):  # both workers carried load
        own = worker_file(tmp_path, name, "report.json")
        assert json.loads(own.read_text())["totals"]["conversations"] > 0
    assert token.split(":")[1] not in out + err


def test_an_emulator_killed_mid_run_ends_conversations_and_users_back_off(tmp_path, monkeypatch):
    """Seen: with the emulator killed 8 s into a run, every user retried at once: 12,238
    tracebacks in 12 s. Now the conversations in flight end as emulator_lost, the outage is
    said once (and its end), users back off, and once it is back the bot is talked to again."""
    token, log = new_token(), tmp_path / "bot.jsonl"
    monkeypatch.setenv("CHATSTORM_BOT_TOKEN", token)
    port, state = free_port(), tmp_path / "state.json"
    url = f"http://127.0.0.1:{port}"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "batched.yaml").write_text(scenario("Batched", [0.3]).model_dump_json())
    report = tmp_path / "report"
    emulator, _ = serve_emulator(port, state)
    with stopped_at_exit(emulator), batching_bot(url, token, log):
        locust = subprocess.Popen(
            [
                *LOCUST,
                *f"--headless -u 4 -r 4 -t 16s --only-summary --time-scale {SCALE}".split(),
                *f"--transport botapi --botapi-url {url} --scenario {scenarios}".split(),
                *["--report-dir", str(report)],
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with stopped_at_exit(locust):
            printed = Lines(locust)
            wait_for(lambda: log.exists() and len(read_jsonl(log)) >= 4, 30, "four batches")
            emulator.kill()
            emulator.wait()
            printed.wait_for("the Bot API emulator is unreachable", 30)
            with stopped_at_exit(serve_emulator(port, state)[0]):
                printed.wait_for("the Bot API emulator is reachable again", 30)
                answered_before = len(read_jsonl(log))
                locust.wait(timeout=60)  # stderr is the reader's: read stdout apart
                out = locust.stdout.read()
                exited_at = time.time()
            answered_after = len(read_jsonl(log))
    err = printed.text()
    stop_s = seconds_after_run_end(err, exited_at)
    print(f"stop_s={stop_s:.2f}")  # for the figures: pytest -s
    assert stop_s < 30
    assert "Traceback" not in err and len(err.splitlines()) < 200, err[-3000:]
    assert err.count("is unreachable") == 1 and err.count("reachable again") == 1
    totals = json.loads((report / "report.json").read_text())["totals"]
    assert totals["end_reasons"].get("emulator_lost", 0) >= 1, totals["end_reasons"]
    assert re.search(r"^emulator_lost\s+Batched\s+\d+\s+\d+\(100", err, re.MULTILINE)
    assert "Batched" in out  # the summary
    assert answered_after > answered_before  # the conversations resumed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--transport", "botapi", "--botapi-url", "http://127.0.0.1:1"],
            "chatstorm: --transport botapi needs the bot's token: --bot-token TOKEN",
        ),
        (
            ["--transport", "botapi", "--bot-token", "12:abc"],
            "chatstorm: --transport botapi needs --botapi-url URL",
        ),
        (
            ["--transport", "botapi", "--bot-token", "secret-looking", "--botapi-serve"],
            "chatstorm: --bot-token is not a bot token: expected <bot id>:<secret>",
        ),
        (
            ["--transport", "botapi", "--bot-token", "12:abc", "--botapi-url", "{url}"],
            "chatstorm: cannot reach the Bot API emulator at {url} (Connection refused)",
        ),
    ],
)
def test_locust_refuses_what_cannot_work_in_one_line(args, message):
    url = f"http://127.0.0.1:{free_port()}"
    filled = [arg.format(url=url) for arg in args]
    result = locust("--headless", "-u", "1", "-t", "2s", *filled, timeout=30)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message.format(url=url) in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret-looking" not in result.stdout + result.stderr
