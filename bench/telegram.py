"""Telethon throughput: how many messages one Locust process moves through MTProto.

The local Telegram (harness/local_telegram) runs in its own process with an instant echo
bot and one account per user; one Locust process drives them over
the telethon transport (real Telethon, real MTProto 2.0 encryption, cryptg when
installed). Measured over the steady state: messages per second (sent + received) and
the Locust process's CPU per message. Results go to bench/RESULTS-telegram.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

from run import locust_command, proc_sample

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
USERS = int(os.environ.get("BENCH_TELEGRAM_USERS", "100"))
STEADY_S = 20
SERVER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from harness.local_telegram.server import LocalTelegram
async def main():
    telegram = LocalTelegram()
    await telegram.start()
    telegram.add_bot("echobot", lambda account, text: ["ok"])
    with open({accounts!r}, "w") as out:
        for n in range({users}):
            out.write(telegram.new_account(f"+7999{{n:07d}}") + "\\n")
    print(telegram.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
SCENARIO = {
    "name": "Telegram Throughput",
    "pattern": "C1 A1",
    "max_turns": 100000,
    "total_timeout": 100000,
    "persona": {"multi_message_probability": 0},
    "timing": {"think_time": 0},
    "collect": {"first_reply_timeout": 10, "quiet_window": 0.05, "max_collect": 5},
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        accounts = Path(tmp) / "accounts.txt"
        (Path(tmp) / "scenario.yaml").write_text(json.dumps(SCENARIO))
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER.format(repo=str(REPO), accounts=str(accounts), users=USERS),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            server.stdout.readline()  # the port: the server is up, the accounts written
            locust = subprocess.Popen(
                [
                    *locust_command(REPO / "locustfiles" / "telegram.py"),
                    "--headless",
                    "-u",
                    str(USERS),
                    "-r",
                    str(USERS),
                    "-t",
                    f"{STEADY_S + 8}s",
                    "--reset-stats",
                    "--scenario",
                    str(Path(tmp) / "scenario.yaml"),
                    "--transport",
                    "telethon",
                    "--bot",
                    "@echobot",
                    "--api-id",
                    "1",
                    "--accounts-file",
                    str(accounts),
                    "--report-dir",
                    str(Path(tmp) / "report"),
                    "--no-transcripts",
                    "--only-summary",
                ],
                cwd=REPO,
                env={**os.environ, "TG_API_HASH": "0" * 32},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(6)  # connected, users spawned, stats reset
            cpu_start, _ = proc_sample(locust.pid)
            server_start, _ = proc_sample(server.pid)
            started = time.monotonic()
            time.sleep(STEADY_S - 2)
            cpu_end, rss = proc_sample(locust.pid)
            server_end, _ = proc_sample(server.pid)
            elapsed = time.monotonic() - started
            locust.wait(timeout=60)
        finally:
            server.kill()
            server.wait()
        report = json.loads((Path(tmp) / "report" / "report.json").read_text())
    totals = report["totals"]
    messages = totals["client_messages"] + totals["agent_messages"]
    rate = messages / report["run"]["duration_s"]
    cpu_ms = (cpu_end - cpu_start) * 1000 / (rate * elapsed)
    server_ms = (server_end - server_start) * 1000 / (rate * elapsed)
    first = totals["latency_ms"]["first_reply"]
    text = f"""# chatstorm over Telegram: throughput

Measured {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} on {os.cpu_count()} cores, Python
{sys.version.split()[0]}, telethon {version("telethon")}, cryptg
{"installed" if find_spec("cryptg") else "NOT installed"}.
Command: `python bench/telegram.py` (part of `make bench`).

One Locust process, {USERS} real Telethon clients (one account each) over MTProto 2.0 to
the local Telegram of the test suite (its own process, an instant echo bot, users that
never pause), about {STEADY_S} s of steady state:

- **{rate:,.0f} messages per second** (sent + received) sustained by the Locust process;
- **{cpu_ms:.2f} ms of Locust-process CPU per message** (the local Telegram used
  {server_ms:.2f} ms per message in its own process);
- first_reply p50 / p95 / p99 {first["p50"]} / {first["p95"]} / {first["p99"]} ms through
  the whole stack (the bot answers at once); {rss:,.0f} MB resident.
"""
    (BENCH / "RESULTS-telegram.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
