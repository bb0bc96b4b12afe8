"""Planted secrets: every credential a run takes (the Anthropic key, the Telegram api_hash
and session strings, a two-step password, the bot token, the emulator's link token, the
Redis password in its URL) gets an unmistakable value (tests/support/planted.py), every
process of every run has them all, and each transport runs through its success and
failure paths with them: a wrong Anthropic key, a Redis that refuses the password or is
not there, FLOOD_WAIT, a session Telegram has ended, a bot's broken calls, garbage on the
harness link and the emulator killed mid-run. None may show, in any form, in what the
processes print, in any file under --report-dir, in Locust's CSV and HTML, in the web UI's
pages and /chatstorm/stats, in the emulator's state file and /harness/v1/stats, in the
LLM cache (its keys and entries), in an error line. Accounts and state files are 0600.

Each run also proves the secrets were in use (the Messages API saw the key, Telegram's
accounts sent, the bot answered), so no check passes because nothing happened.
"""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from harness.botapi.protocol import LINK_TOKEN_HEADER, PATH, TOKEN_HEADER
from harness.cli.main import app
from harness.coord import connect_redis
from harness.local_telegram.auth import trust_test_key
from harness.local_telegram.server import LocalTelegram
from tests.fakes.anthropic_server import MessagesServer, default_burst
from tests.support.botapi import (
    REPO,
    bot_process,
    call,
    emulator_stats,
    serve_emulator,
    stopped_at_exit,
)
from tests.support.locust_runs import (
    LOCUST,
    WatchedRun,
    free_port,
    read_jsonl,
    run_watched,
    scenario_dir,
)
from tests.support.planted import (
    ANTHROPIC_KEY,
    API_HASH,
    BOT_TOKEN,
    LINK_TOKEN,
    PLANTED,
    REDIS_PASSWORD,
    TWO_STEP_PASSWORD,
    WRONG_ANTHROPIC_KEY,
    WRONG_REDIS_PASSWORD,
    Planted,
    auth_key,
    redis_url,
)
from tests.support.redis_support import new_prefix, private_redis
from tests.support.scenarios import scenario

SCALE = 0.1
HARNESS = [sys.executable, "-m", "harness.cli"]
LLM_JUDGED = """\
name: Planted LLM
pattern: "C A"
max_turns: 2
persona:
  name: Max
  objective: get a lost order resent
  engine: llm
  llm: {model: claude-haiku-4-5, max_tokens: 200}
timing: {inter_message_delays: [0.4], think_time: 0.5}
collect: {first_reply_timeout: 20, quiet_window: 2.0, max_collect: 30}
agent: {debounce_s: 1.0, think_time_s: 0.6, reply_parts: 1}
final_evaluations: [{type: llm_judge, prompt: "Was the order resent?"}]
"""


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[int]:
    """A Redis of this module's own that wants the planted password; its port."""
    with private_redis("--requirepass", REDIS_PASSWORD) as (port, _server):
        yield port


@pytest.fixture
def planted_env(monkeypatch, locked_redis) -> str:
    """Every credential a process of a run reads from its environment, planted; the
    Redis URL (with its password) that they all get."""
    url = redis_url(locked_redis)
    planted = {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "TG_API_ID": "1",
        "TG_API_HASH": API_HASH,
        "CHATSTORM_BOT_TOKEN": BOT_TOKEN,
        "CHATSTORM_LINK_TOKEN": LINK_TOKEN,
        "REDIS_URL": url,
    }
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    return url


def judge_or_persona(body: dict) -> str:
    """The model's answer: a verdict when the judge asks, else the persona's burst."""
    schema = body.get("output_config", {}).get("format", {}).get("schema", {})
    if "verdict" in schema.get("properties", {}):
        return json.dumps({"verdict": "pass", "score": 1.0, "blame": "none", "reasoning": "ok"})
    return default_burst(body)


@pytest.fixture
def messages_api(planted_env) -> Iterator[MessagesServer]:
    """The local Messages API, taking the planted key only."""
    with MessagesServer(api_key=ANTHROPIC_KEY) as server:
        server.api.reply = judge_or_persona
        yield server


def outputs_of(run: WatchedRun, name: str) -> dict[str, str | bytes]:
    """What a watched run printed and served, by where it came from."""
    return {
        f"{name} stdout": run.stdout,
        f"{name} stderr": run.stderr,
        **{f"{name} page {path}": page for path, page in run.pages.items()},
    }


def locust_outputs(tmp_path: Path) -> tuple[Path, list[str]]:
    """The run's report folder and Locust's own CSV and HTML options, all in ``out/``."""
    out = tmp_path / "out"
    report = out / "report"
    return out, ["--report-dir", str(report), "--csv", str(out / "locust"), "--html",
                 str(out / "locust.html")]  # fmt: skip


def assert_written(out: Path) -> None:
    """Every output the scan reads is there to read."""
    written = {path.name for path in out.rglob("*") if path.is_file()}
    expected = {"report.json", "report.html", "transcripts.jsonl", "locust.html"}
    assert expected | {"locust_stats.csv", "locust_failures.csv"} <= written, written


async def redis_entries(url: str, pattern: str) -> dict[str, str]:
    """Every key matching ``pattern``, with its value when that is a string (the LLM
    cache's are), else its type (the account pool's hashes hold sessions by design)."""
    client = await connect_redis(url)
    try:
        entries = {}
        async for key in client.scan_iter(match=pattern):
            kind = await client.type(key)
            entries[key] = await client.get(key) if kind == "string" else kind
        return entries
    finally:
        await client.aclose()


def test_an_llm_run_on_a_locked_redis_shows_no_secret_anywhere(messages_api, planted_env, tmp_path):
    """The LLM persona and judge ask with the planted key; their cache lives in the Redis
    that wants the planted password; the run is watched through its web UI."""
    prefix = new_prefix()
    out, files = locust_outputs(tmp_path)
    run = run_watched(
        "--scenario", str(scenario_dir(tmp_path, llm=LLM_JUDGED)),
        "--time-scale", str(SCALE), "-u", "2", "-r", "2", "-t", "8s",
        "--conversations-per-user", "1", "--llm-base-url", messages_api.url,
        "--redis-prefix", prefix, *files,
        ready=lambda live: live["totals"]["conversations"] >= 2,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    asked = messages_api.api.answered
    assert len(asked) >= 3 and {seen.api_key for seen in asked} == {ANTHROPIC_KEY}
    totals = json.loads((out / "report" / "report.json").read_text())["totals"]
    assert totals["llm"]["requests"] >= 2
    assert totals["judging"]["evaluations"]["final.llm_judge"]["passed"] == 2
    cached = asyncio.run(redis_entries(planted_env, f"{prefix}:llm:*"))
    assert len(cached) == len(asked)  # every answer, the judge's too, cached in Redis
    assert_written(out)
    texts = {**outputs_of(run, "locust"), **{f"cache {k}": k + v for k, v in cached.items()}}
    assert PLANTED.leaks_everywhere(texts, out) == {}


def harness_run(scenarios: Path, report: Path, *args: str) -> subprocess.CompletedProcess:
    """``harness run`` of the scenarios (each twice), its report in ``report``."""
    command = [*HARNESS, "run", str(scenarios), "--repeat", "2", "--time-scale", str(SCALE)]
    return subprocess.run(
        [*command, "--report-dir", str(report), *args],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip


def test_harness_run_shows_no_key_wrong_or_answered_from_the_cache(
    messages_api, monkeypatch, tmp_path
):
    """The right key fills a disk cache; with a wrong key the same conversations are
    answered from it (the key is not part of the cache key); with a wrong key and no
    cache, every request is refused (401) and the turns play scripted."""
    monkeypatch.delenv("REDIS_URL")
    scenarios = scenario_dir(tmp_path, llm=LLM_JUDGED)
    reports = {name: tmp_path / name for name in ("right", "cached", "refused")}
    cache = ("--llm-base-url", messages_api.url, "--llm-cache-dir", str(tmp_path / "cache"))
    right = harness_run(scenarios, reports["right"], *cache)
    asked = len(messages_api.api.requests)
    assert right.returncode == 0 and asked >= 3, right.stdout[-3000:] + right.stderr[-3000:]
    monkeypatch.setenv("ANTHROPIC_API_KEY", WRONG_ANTHROPIC_KEY)
    cached = harness_run(scenarios, reports["cached"], *cache)
    assert cached.returncode == 0, cached.stdout[-3000:] + cached.stderr[-3000:]
    assert len(messages_api.api.requests) == asked  # all from the cache, whatever the key
    fresh = ("--llm-base-url", messages_api.url, "--llm-cache-dir", str(tmp_path / "empty"))
    refused = harness_run(scenarios, reports["refused"], *fresh)
    statuses = {seen.status for seen in messages_api.api.requests[asked:]}
    assert statuses == {401}, statuses
    assert "AuthenticationError, HTTP 401: invalid x-api-key" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(list((tmp_path / "cache").rglob("*.json"))) == asked
    texts = {f"{name} {stream}": getattr(result, stream)
             for name, result in (("right", right), ("cached", cached), ("refused", refused))
             for stream in ("stdout", "stderr")}  # fmt: skip
    leaked = PLANTED.leaks_everywhere(texts, *reports.values(), tmp_path / "cache")
    assert leaked == {}


async def misbehave_as_the_bot(url: str) -> None:
    """What a broken bot and a broken harness send, the planted tokens with every call:
    a body that is not one, an unknown method, garbage frames on a harness link."""
    headers = {TOKEN_HEADER: BOT_TOKEN, LINK_TOKEN_HEADER: LINK_TOKEN}
    async with aiohttp.ClientSession(url) as http:
        async with http.post(f"/bot{BOT_TOKEN}/sendMessage", data=b"{not json",
                             headers={"content-type": "application/json"}) as response:  # fmt: skip
            assert response.status == 400
        status, _ = await call(http, "sendCarrierPigeon", BOT_TOKEN, chat_id=1)
        assert status == 404
        async with http.ws_connect(PATH, headers=headers) as link:
            for frame in (b"\x00\xff garbage", b'{"op": "teleport", "req": 1}', b"[1, 2"):
                await link.send_bytes(frame)
                answer = json.loads(await link.receive_bytes(timeout=10))
                assert answer[0]["op"] == "error", answer


def test_a_botapi_run_whose_emulator_dies_shows_no_token(planted_env, capfd, tmp_path):
    """A real bot on ``harness botapi serve`` (which wants the planted link token), a
    bot's broken calls and garbage on the harness link, then a watched run of the botapi
    transport whose emulator is killed mid-run."""
    state = tmp_path / "state" / "botapi.json"
    out, files = locust_outputs(tmp_path)
    scenarios = scenario_dir(tmp_path, batched=scenario("Batched", [0.3]).model_dump_json())
    emulator, url = serve_emulator(0, state)
    bot = REPO / "examples" / "bots" / "ptb_batching_bot.py"
    seen: dict[str, dict] = {}

    def kill_the_emulator() -> None:
        seen["stats"] = emulator_stats(url)
        emulator.kill()
        emulator.wait()

    log = tmp_path / "bot.jsonl"
    with stopped_at_exit(emulator), bot_process(bot, url, BOT_TOKEN, "--log", str(log)):
        asyncio.run(misbehave_as_the_bot(url))
        run = run_watched(
            "--scenario", str(scenarios), "--time-scale", "0.2", "-u", "3", "-r", "3",
            "-t", "8s", "--transport", "botapi", "--botapi-url", url, *files,
            ready=lambda live: live["totals"]["conversations"] >= 2,
            during=kill_the_emulator,
        )  # fmt: skip
        emulator_out = emulator.stdout.read()
    emulator_err = capfd.readouterr().err
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "the Bot API emulator is unreachable" in run.stderr  # the crash, as the run saw it
    assert len(read_jsonl(log)) >= 4  # the bot answered the run
    bot_id = BOT_TOKEN.split(":")[0]
    assert seen["stats"]["bots"][bot_id].get("messages", 0) > 0  # read once the bot answered
    assert f"bot {bot_id}: " in emulator_err  # the emulator spoke of this bot's mistakes
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert_written(out)
    texts = {
        **outputs_of(run, "locust"),
        "emulator stdout": emulator_out,
        "emulator stderr": emulator_err,
        "/harness/v1/stats": json.dumps(seen["stats"]),
    }
    assert PLANTED.leaks_everywhere(texts, out, state.parent) == {}


async def test_a_telethon_run_with_flood_waits_and_an_ended_session_shows_no_secret(
    planted_env, tmp_path
):
    """``harness login`` (the real key exchange, a planted two-step password) writes an
    accounts file; two accounts with planted auth keys and one whose session Telegram
    has ended join it; their pool is the Redis that wants the planted password; the first
    message sent gets FLOOD_WAIT. The run is watched through its web UI."""
    trust_test_key()
    telegram = LocalTelegram()
    await telegram.start()
    telegram.add_bot("echobot", lambda account, text: [f"re: {text}"])
    telegram.flood_wait_next = 1
    accounts = tmp_path / "accounts.txt"
    prefix = new_prefix()
    out, files = locust_outputs(tmp_path)
    pooled = scenario("Pooled", [0.3], pattern="C1 A").model_dump_json()
    scenarios = scenario_dir(tmp_path, pooled=pooled)
    try:
        code = telegram.register("+79990000001", password=TWO_STEP_PASSWORD)
        command = ["login", "--server", f"127.0.0.1:{telegram.port}", "--phone", "+79990000001",
                   "--out", str(accounts)]  # fmt: skip
        login = await asyncio.to_thread(
            CliRunner().invoke, app, command, input=f"{code}\n{TWO_STEP_PASSWORD}\n"
        )
        assert login.exit_code == 0, login.output
        assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
        (logged_in,) = [line for line in accounts.read_text().splitlines() if line]
        planted = Planted({**PLANTED.values, "logged-in session": logged_in.encode()})
        sessions = [
            telegram.new_account("+79990000002", auth_key(0)),
            telegram.new_account("+79990000003", auth_key(1)),
            telegram.signed_out_session(auth_key(2)),
        ]
        with accounts.open("a") as file:
            file.writelines(f"{session}\n" for session in sessions)
        run = await asyncio.to_thread(
            run_watched,
            "--scenario", str(scenarios), "--time-scale", str(SCALE), "-u", "4", "-r", "4",
            "-t", "6s", "--transport", "telethon", "--bot", "@echobot",
            "--accounts-file", str(accounts), "--redis-prefix", prefix, *files,
            ready=lambda live: live["totals"]["conversations"] >= 3,
        )  # fmt: skip
        pool_keys = await redis_entries(planted_env, f"{prefix}:*")
    finally:
        await telegram.stop()
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    report = json.loads((out / "report" / "report.json").read_text())
    reasons = report["totals"]["end_reasons"]
    assert reasons.get("flood_wait") == 1 and reasons.get("account_retired", 0) >= 1, reasons
    assert report["totals"]["agent_messages"] >= 2  # the live accounts talked to the bot
    sessions_kept = {"logged-in session", "auth key 0", "auth key 1", "auth key 2"}
    assert planted.leaks(accounts.read_bytes()) >= sessions_kept  # the scan sees sessions
    assert pool_keys  # the pool was in the Redis that wants the planted password
    assert_written(out)
    texts = {
        "login output": login.output,
        **outputs_of(run, "locust"),
        **{f"redis key {key}": key + kind for key, kind in pool_keys.items()},
    }
    assert planted.leaks_everywhere(texts, out) == {}


def one_line_failure(command: list[str]) -> str:
    """The one line a command that cannot start prints (Locust's own log and empty
    tables aside), exiting 2."""
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert PLANTED.leaks(result.stdout + result.stderr) == set()
    said = [
        line for line in result.stderr.splitlines() if line.startswith(("chatstorm:", "harness:"))
    ]
    assert len(said) == 1, result.stderr[-3000:]
    return said[0]


@pytest.mark.parametrize(
    ("front", "redis"),
    [
        ("accounts", "wrong password"),
        ("accounts", "closed port"),
        ("locust", "wrong password"),
        ("locust", "closed port"),
        ("run", "wrong password"),
    ],
)
def test_a_redis_that_refuses_or_is_not_there_is_one_line_without_the_password(
    planted_env, locked_redis, tmp_path, front, redis
):
    port = locked_redis if redis == "wrong password" else free_port()
    url = redis_url(port, WRONG_REDIS_PASSWORD if redis == "wrong password" else REDIS_PASSWORD)
    scenarios = scenario_dir(tmp_path, llm=LLM_JUDGED)
    command = {
        "accounts": [*HARNESS, "accounts", "list", "--redis-url", url],
        "locust": [*LOCUST, "--headless", "-u", "1", "-t", "2s", "--scenario", str(scenarios),
                   "--transport", "telethon", "--bot", "@echobot", "--redis-url", url],
        "run": [*HARNESS, "run", str(scenarios), "--redis-url", url],
    }[front]  # fmt: skip
    line = one_line_failure(command)
    masked = f"Redis at redis://:***@127.0.0.1:{port}/0"
    expected = "refused the credentials" if redis == "wrong password" else "cannot reach " + masked
    assert masked in line and expected in line, line


def test_an_unreachable_emulator_is_one_line_without_the_token(planted_env):
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_failure(
        [*LOCUST, "--headless", "-u", "1", "-t", "2s", "--transport", "botapi", "--botapi-url", url]
    )
    assert f"cannot reach the Bot API emulator at {url}" in line, line
