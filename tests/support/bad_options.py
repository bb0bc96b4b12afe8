"""Bad values for every command-line option, by option, and what the answer must be.

Shared by the locustfile's campaign (``tests/e2e/test_locust_option_fuzz.py``) and the
``harness`` commands' (``tests/integration/test_cli_option_fuzz.py``): a run option
means the same on both, so it gets the same bad values and the same answer. A case is
(its arguments, a fragment the one line of error must hold); ``{placeholders}`` name
the files ``bad_inputs`` makes.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

SECRET = "s3cretPw"
"""Planted in passwords and tokens: it must never appear in an error."""
SESSION = "1BVtsOKABu" + "Q" * 60 + "=="

Case = tuple[tuple[str, ...], str]
TINY = """\
name: Tiny
pattern: "C1 A"
max_turns: 1
persona: {multi_message_probability: 0}
timing: {think_time: 0.1}
collect: {first_reply_timeout: 2, quiet_window: 0.2, max_collect: 2}
agent: {debounce_s: 0.1, think_time_s: 0.1, reply_parts: 1}
"""


def bad_inputs(folder: Path) -> dict[str, str]:
    """The files the cases name: a regular file (a parent no path can go through), a
    binary file, half a JSON document, an empty file, an accounts file with one garbage
    line among sessions, a good one, and a folder with one valid scenario."""
    (folder / "file").write_text("x\n")
    (folder / "binary").write_bytes(b"\xff\xfe\x00\x9c garbage \x00")
    (folder / "half").write_text('{"session": "1BVts')
    (folder / "empty").write_text("")
    (folder / "garbage-accounts").write_text(f"{SESSION}\n{{'not': 'a session'}}\n")
    (folder / "wrong-fields").write_text('{"phone":"+1","session":"x"}\n')
    (folder / "sessions").write_text(f"# one good session\n{SESSION}\n")
    scenarios = folder / "scenarios"
    scenarios.mkdir()
    (scenarios / "tiny.yaml").write_text(textwrap.dedent(TINY))
    return {name: str(folder / name) for name in ("file", "binary", "half", "empty")} | {
        "accounts": str(folder / "garbage-accounts"),
        "fields": str(folder / "wrong-fields"),
        "sessions": str(folder / "sessions"),
        "scenarios": str(scenarios),
        "missing": str(folder / "missing"),
    }


BOTAPI = ("--transport", "botapi", "--bot-token", "123:abc", "--botapi-url")
TELETHON = ("--transport", "telethon", "--bot", "@b", "--api-id", "1", "--api-hash", "h")
ON_FILE = "{file} is a file, not a folder"

RUN: dict[str, list[Case]] = {
    "--transport": [(("--transport", "carrier-pigeon"), "invalid choice: 'carrier-pigeon'")],
    "--scenario": [
        (("--scenario", "{missing}"), "no such file or folder"),
        (("--scenario", "{binary}"), "{binary}:1"),
    ],
    "--time-scale": [
        (("--time-scale", "0"), "must be greater than 0"),
        (("--time-scale", "-1"), "must be greater than 0"),
        (("--time-scale", "nan"), "must be a finite number"),
        (("--time-scale", "inf"), "must be a finite number"),
        (("--time-scale", "1e400"), "must be a finite number"),
        (("--time-scale", "fast"), "'fast' is not a number"),
    ],
    "--report-dir": [
        (("--report-dir", "{file}"), "cannot write reports to {file}"),
        (("--report-dir", "{file}/reports"), "cannot write reports to {file}/reports"),
    ],
    "--no-transcripts": [(("--no-transcripts=yes",), "--no-transcripts")],
    "--run-id": [
        (("--run-id", "two words"), "without spaces"),
        (("--run-id", ""), "--run-id"),
        (("--run-id", "x" * 201), "1 to 200"),
    ],
    "--no-judge": [(("--no-judge=maybe",), "--no-judge")],
    "--expect": [
        (("--expect", "garbage"), "write KEY=VALUE"),
        (("--expect", "first_reply_p95_ms=nan"), "finite"),
        (("--expect", "first_reply_p95_ms=-5"), "greater than 0"),
    ],
    "--redis-url": [
        (("--redis-url", "ftp://127.0.0.1/0"), "expected redis://"),
        (("--redis-url", f"redis://:{SECRET}@127.0.0.1:99999/0"), "port must be a number"),
        (("--redis-url", "redis:// spaces here"), "expected redis://"),
        (("--redis-url", "redis://"), "expected redis://"),
    ],
    "--redis-prefix": [(("--redis-prefix", "a prefix"), "without spaces")],
    "--llm-budget-usd": [
        (("--llm-budget-usd", "nan"), "finite"),
        (("--llm-budget-usd", "-3"), "greater than 0"),
        (("--llm-budget-usd", "inf"), "finite"),
    ],
    "--llm-concurrency": [
        (("--llm-concurrency", "0"), "must be from 1"),
        (("--llm-concurrency", "1e9"), "not a whole number"),
        (("--llm-concurrency", "99999999999999999999"), "1,000,000"),
    ],
    "--llm-max-retries": [
        (("--llm-max-retries", "-1"), "must be from 0"),
        (("--llm-max-retries", "1000000000"), "1,000,000"),
    ],
    "--llm-cache-dir": [
        (("--llm-cache-dir", "{file}"), "is a file, not a folder"),
        (("--llm-cache-dir", "{file}/cache"), ON_FILE),
    ],
    "--llm-base-url": [
        (("--llm-base-url", "ftp://127.0.0.1"), "expected an http:// or https:// URL"),
        (("--llm-base-url", "http://"), "with a host"),
        (("--llm-base-url", "http://127.0.0.1:99999"), "a port up to 65535"),
        (("--llm-base-url", "http://local host"), "with a host"),
    ],
    "--agent-log": [
        (("--agent-log", "{file}/agent.jsonl"), ON_FILE),
        (("--agent-log", "{scenarios}"), "is a folder, not a file"),
    ],
    "--botapi-url": [
        ((*BOTAPI, "ftp://127.0.0.1:8081"), "argument --botapi-url: expected an http://"),
        ((*BOTAPI, "http://127.0.0.1:99999"), "a port up to 65535"),
        ((*BOTAPI, "http://127.0.0.1:port"), "a port up to 65535"),
        ((*BOTAPI, "http://"), "with a host"),
    ],
    "--bot-token": [
        (
            ("--transport", "botapi", "--botapi-url", "http://127.0.0.1:1", "--bot-token", SECRET),
            "--bot-token is not a bot token",
        ),
        (("--transport", "botapi", "--botapi-url", "http://127.0.0.1:1"), "needs the bot's token"),
    ],
    "--botapi-serve": [(("--botapi-serve=now",), "--botapi-serve")],
    "--botapi-chat": [(("--botapi-chat", "channel"), "invalid choice: 'channel'")],
    "--botapi-state": [
        (("--botapi-state", "{file}/state.json"), ON_FILE),
        (("--botapi-state", "{scenarios}"), "is a folder, not a file"),
    ],
    "--telegram-limits": [(("--telegram-limits=on",), "--telegram-limits")],
    "--bot": [
        (
            (
                "--transport",
                "telethon",
                "--api-id",
                "1",
                "--api-hash",
                "h",
                "--accounts-file",
                "{sessions}",
            ),
            "needs --bot",
        )
    ],
    "--api-id": [
        (("--api-id", "twelve"), "not a whole number"),
        (("--api-id", "-5"), "must be from 1"),
        (("--api-id", "99999999999"), "2,147,483,647"),
    ],
    "--accounts-file": [
        ((*TELETHON, "--accounts-file", "{missing}"), "{missing}: no such file"),
        ((*TELETHON, "--accounts-file", "{scenarios}"), "is not a file"),
        ((*TELETHON, "--accounts-file", "{binary}"), "not UTF-8"),
        ((*TELETHON, "--accounts-file", "{half}"), "{half}:1: not a session string"),
        ((*TELETHON, "--accounts-file", "{accounts}"), "{accounts}:2: not a session string"),
        ((*TELETHON, "--accounts-file", "{fields}"), "{fields}:1: not a session string"),
        ((*TELETHON, "--accounts-file", "{empty}"), "holds no session"),
    ],
    "--lease-ttl": [
        (("--lease-ttl", "0"), "greater than 0"),
        (("--lease-ttl", "nan"), "finite"),
    ],
}
"""The options of a run, the locustfile's and ``harness run``'s alike."""

FREE_TEXT = {
    "--seed": "any text is a seed",
    "--api-hash": "a secret: only Telegram can tell a wrong one",
    "--botapi-link-token": "a secret: only the emulator can tell a wrong one",
}
"""Options no value of which is malformed, and why."""


def filled(args: tuple[str, ...], files: dict[str, str]) -> list[str]:
    return [arg.format(**files) for arg in args]


def one_line_error(stderr: str, said: str, files: dict[str, str], quiet: bool = True) -> str:
    """The one line of error in ``stderr`` (Locust's own log lines apart), which must
    hold ``said``, and nothing else: no traceback, no usage, and (``quiet``) no secret."""
    lines = [line for line in stderr.splitlines() if line.strip() and not _locust_log(line)]
    assert len(lines) == 1, stderr
    assert said.format(**files) in lines[0], stderr
    assert not quiet or SECRET not in stderr
    return lines[0]


LOCUST_LOG = re.compile(r"\[[\d\- :,]+\] \S+/(INFO|WARNING)/locust\.")


def _locust_log(line: str) -> bool:
    """``[2026-12-04 20:21:35,793] host/INFO/locust.main: Starting Locust 2.47.0``, or
    its warning that a load shape ignores -u, -r and -t."""
    return LOCUST_LOG.match(line) is not None
