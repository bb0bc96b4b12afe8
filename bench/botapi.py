"""The Bot API emulator's cost: CPU per message round trip, and round trips per second.

Three processes: the emulator (``harness botapi serve``), the fastest possible bot
(bench/fast_bot.py, straight HTTP with aiohttp), and this script as the harness, driving
CHATS simulated users through the botapi transport, each sending a message as soon as
the previous one was answered. A round trip is: inject over the harness's WebSocket,
getUpdates, sendMessage, the reply pushed back to the harness. Measured over the steady
state from /proc: the emulator's CPU time per round trip, and the round trips per second
(the machine's 2 cores are shared by all three processes, so the emulator's own ceiling,
one core divided by its CPU per round trip, is given too). The figures replace the
"Bot API emulator" section of bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from results import replace_section  # noqa: E402
from run import proc_sample  # noqa: E402

from harness.metrics import Histogram  # noqa: E402
from harness.scenario import Scenario  # noqa: E402
from harness.transport.botapi_transport import BotApiTransport  # noqa: E402

CHATS = int(os.environ.get("BENCH_BOTAPI_CHATS", "200"))
WARMUP_S = 3
STEADY_S = int(os.environ.get("BENCH_BOTAPI_SECONDS", "15"))
TOKEN = "777:bench-token"
SECTION = "## Bot API emulator"


async def converse(transport: BotApiTransport, tally: dict) -> None:
    session = await transport.open("bench", Scenario(name="bench"))
    while True:
        sent = await session.send("hi")
        reply = await session.inbox.get(10)
        if reply is None:
            raise RuntimeError("the bot did not answer within 10 s")
        tally["round_trips"] += 1
        tally["latency"].add((reply.t_received - sent.t_ack) * 1000)


async def drive(url: str, emulator_pid: int) -> dict:
    transport = BotApiTransport(url, TOKEN)
    await transport.connect()
    tally = {"round_trips": 0, "latency": Histogram()}
    users = [asyncio.create_task(converse(transport, tally)) for _ in range(CHATS)]
    await asyncio.sleep(WARMUP_S)
    cpu_start, _ = proc_sample(emulator_pid)
    tally.update(round_trips=0, latency=Histogram())  # the steady state only
    started = time.monotonic()
    await asyncio.sleep(STEADY_S)
    cpu_end, rss = proc_sample(emulator_pid)
    elapsed, done = time.monotonic() - started, tally["round_trips"]
    for user in users:
        user.cancel()
    await asyncio.gather(*users, return_exceptions=True)
    await transport.close()
    return {
        "rate": done / elapsed,
        "cpu_ms": (cpu_end - cpu_start) * 1000 / done,
        "cpu_share": (cpu_end - cpu_start) / elapsed,
        "rss_mb": rss,
        "latency": tally["latency"].summary(),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        emulator = subprocess.Popen(
            [
                sys.executable,
                *["-m", "harness.cli", "botapi", "serve", "--port", "0", "--state"],
                f"{tmp}/state.json",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        bot = None
        try:
            url = re.search(r"http://[\d.]+:\d+", emulator.stdout.readline()).group(0)
            bot = subprocess.Popen(
                [sys.executable, str(BENCH / "fast_bot.py"), url],
                env={**os.environ, "BOT_TOKEN": TOKEN},
            )
            import uvloop

            figures = uvloop.run(drive(url, emulator.pid))
        finally:
            for process in (bot, emulator):
                if process is not None:
                    process.kill()
                    process.wait()
    write_results(figures)


def write_results(f: dict) -> None:
    latency = f["latency"]
    section = f"""{SECTION}

Measured {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} on {os.cpu_count()} cores, Python
{sys.version.split()[0]}, aiohttp {version("aiohttp")}.
Command: `python bench/botapi.py` (part of `make bench`).

One emulator process, the fastest possible bot (bench/fast_bot.py: plain aiohttp, long
polls of up to 100 updates, every answer at once) and {CHATS} simulated users over the
botapi transport, each writing again as soon as it is answered; {STEADY_S} s of steady
state. A round trip: the user's message injected, delivered by getUpdates, answered by
sendMessage, the answer pushed to the harness.

- **{f["cpu_ms"]:.3f} ms of emulator CPU per round trip**: one emulator core would carry
  about **{1000 / f["cpu_ms"]:,.0f} round trips per second**;
- **{f["rate"]:,.0f} round trips per second** sustained here, with the emulator at
  {f["cpu_share"]:.0%} of a core (its two cores are shared with the bot and the harness);
- the reply to a message reaches the harness after p50 / p95 / p99 {latency["p50"]} /
  {latency["p95"]} / {latency["p99"]} ms at that load; the emulator held
  {f["rss_mb"]:.0f} MB resident.
"""
    replace_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
