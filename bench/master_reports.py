"""What a Locust master costs per worker report, and how many workers one master holds.

A real master (chatstorm's locustfile, headless) and N simulated workers in one other
process, speaking Locust's own protocol (locust.rpc): each connects, takes its users,
heartbeats every second and, every second, sends what a busy worker sends: a stats
report (Locust's request rows for three scenarios, and chatstorm's figures from 500
measured bursts: histograms, the quality timeline, the latest lines) and a chunk of 500
transcript lines. The master's CPU over 20 s of steady state, divided by the reports it
got, is its CPU per worker report; "holds" means no worker is ever marked missing (the
master read every heartbeat in time) and the simulated workers sent (at least 95 % of)
one report a second each, the master taking them all.
Results go to the "Master and workers" section of bench/RESULTS.md.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from run import locust_command, proc_sample  # noqa: E402

SECTION = "## Master and workers"
STEADY_S = 20.0
LINES_PER_REPORT = 500
BURSTS_PER_REPORT = 500
SCENARIO = """\
name: Bench
pattern: "C2 A"
max_turns: 2
"""


def simulated_workers(host: str, port: int, count: int, tally: Path) -> None:
    """``count`` workers in this process (run as ``python master_reports.py workers``);
    how many reports they have sent goes to ``tally`` every second, so the master's cost
    is divided by the reports really sent, not by what was meant."""
    import gevent
    from locust import __version__
    from locust.rpc import Message, rpc

    from harness.locust.fleet import LINES

    report, chunk = _payloads()
    sent = [0]

    def keep_tally() -> None:
        while True:
            tally.write_text(str(sent[0]))
            gevent.sleep(0.5)

    def worker(index: int) -> None:
        identity = f"sim_{index}_{os.getpid()}"
        client = rpc.Client(host, port, identity)
        client.send(Message("client_ready", __version__, identity))

        def listen() -> None:
            while True:
                msg = client.recv()
                if msg.type == "spawn":
                    counts = msg.data["user_classes_count"]
                    client.send(Message("spawning", None, identity))
                    done = {"user_classes_count": counts, "user_count": sum(counts.values())}
                    client.send(Message("spawning_complete", done, identity))

        gevent.spawn(listen)
        gevent.sleep(random.random())  # workers report out of step, as real ones do
        seq = 0
        beat = {"state": "running", "current_cpu_usage": 50.0, "current_memory_usage": 10**8}
        while True:
            client.send(Message("heartbeat", beat, identity))
            client.send(Message("stats", report, identity))
            seq += 1
            client.send(Message(LINES, {**chunk, "seq": seq}, identity))
            sent[0] += 1
            gevent.sleep(1.0)

    gevent.spawn(keep_tally)
    gevent.joinall([gevent.spawn(worker, index) for index in range(count)])


def _payloads() -> tuple[dict, dict]:
    """A busy worker's one-second report and transcript chunk."""
    import orjson
    from locust.stats import RequestStats

    from harness.locust.plugin import WIRE_KEY
    from harness.metrics import RunStats
    from harness.metrics.burst import measure_burst
    from harness.metrics.loop_lag import LoopLagFigures
    from harness.metrics.quality import QualityTimeline

    rng = random.Random(0)
    stats, figures, quality = RequestStats(), RunStats(), QualityTimeline()
    now = time.time()
    for index in range(BURSTS_PER_REPORT):
        scenario = f"Scenario {index % 3}"
        sends = [0.0, 0.4]
        arrivals = [0.4 + rng.uniform(0.5, 1.5), 0.4 + rng.uniform(1.6, 2.5)]
        burst = measure_burst(sends, sends, arrivals, False, 0.5)
        figures.scenario(scenario).add_burst(burst)
        quality.add_burst(now, burst)
        for kind in ("send", "first_reply", "complete_reply"):
            stats.log_request(kind, scenario, rng.uniform(50, 2500), 0)
    line = {"run_id": "bench", "conversation_id": "Scenario 0#1-1", "scenario": "Scenario 0",
            "persona": "Sam", "turn": 0, "role": "client", "text": "x" * 120,
            "time": "2026-12-04T10:00:00.000+00:00", "t_s": 1.0}  # fmt: skip
    report = {
        "stats": stats.serialize_stats(),
        "stats_total": stats.total.get_stripped_report(),
        "errors": stats.serialize_errors(),
        "user_count": 100,
        WIRE_KEY: {
            "stats": figures.to_state(),
            "loop_lag": LoopLagFigures().to_state(),
            "quality": quality.to_state(),
            "active": {"Scenario 0": 30},
            "recent": [line] * 60,
        },
    }
    raw = orjson.dumps(line) + b"\n"
    chunk = {"lines": {"transcript": [raw] * LINES_PER_REPORT}, "sent": {}, "dropped": {},
             "final": False}  # fmt: skip
    return report, chunk


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read(tally: Path) -> int:
    return int(tally.read_text() or 0) if tally.exists() else 0


def measure(count: int) -> tuple[float, float, bool]:
    """(master CPU ms per worker report, share of a core, every heartbeat read in time)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "bench.yaml").write_text(SCENARIO)
        port = _free_port()
        log = (folder / "master.log").open("w")
        master = subprocess.Popen(
            [
                *locust_command(REPO / "locustfiles" / "telegram.py"),
                "--master",
                "--headless",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(port),
                "--expect-workers",
                str(count),
                "-u",
                str(count),
                "-r",
                str(count),
                "-t",
                f"{STEADY_S + 15:.0f}s",
                "--scenario",
                str(folder),
                "--report-dir",
                str(folder / "report"),
                "--only-summary",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        tally = folder / "tally"
        workers = subprocess.Popen(
            [sys.executable, __file__, "workers", str(port), str(count), str(tally)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            text = ""
            deadline = time.monotonic() + 60
            while "All users spawned" not in text and time.monotonic() < deadline:
                time.sleep(0.2)
                text = (folder / "master.log").read_text()
            time.sleep(3.0)  # reports settle into their one-per-second rhythm
            before, started, first = proc_sample(master.pid)[0], time.monotonic(), _read(tally)
            time.sleep(STEADY_S)
            used, elapsed = proc_sample(master.pid)[0] - before, time.monotonic() - started
            reports = _read(tally) - first
        finally:
            workers.send_signal(signal.SIGKILL)
            workers.wait()
            master.send_signal(signal.SIGKILL)
            master.wait()
        text = (folder / "master.log").read_text()
    held = "setting state to missing" not in text and reports >= 0.95 * count * elapsed
    return used / reports * 1000, used / elapsed, held


def main() -> None:
    rows = []
    for count in (8, 32):
        ms, share, held = measure(count)
        rows.append((count, ms, share, held))
        print(f"{count} workers: {ms:.2f} ms per report, {share:.0%} of a core, held={held}")
    per_report_ms = rows[-1][1]
    estimate = int(0.8 / (per_report_ms / 1000))
    ms, share, held = measure(estimate)
    rows.append((estimate, ms, share, held))
    print(f"{estimate} workers: {ms:.2f} ms per report, {share:.0%} of a core, held={held}")
    _record(rows, estimate)


def _record(rows: list[tuple[int, float, float, bool]], estimate: int) -> None:
    from results import replace_section

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(
        f"| {count} | {ms:.2f} | {share:.0%} | {'yes' if held else 'no'} |"
        for count, ms, share, held in rows
    )
    section = f"""{SECTION}

Measured {now} on {os.cpu_count()} cores, Python {sys.version.split()[0]}. Command:
`python bench/master_reports.py` (part of `make bench`).

A real master and N simulated workers (one process, Locust's own protocol), each sending
every second a heartbeat, a stats report (Locust's rows and chatstorm's figures of
{BURSTS_PER_REPORT} bursts) and {LINES_PER_REPORT} transcript lines; the master's CPU over
{STEADY_S:.0f} s of steady state.

| workers | master CPU ms per worker report | master CPU | held (heartbeats, 1 report/s) |
| ---: | ---: | ---: | --- |
{table}

The last row is the estimate of how many workers one master holds at one report a second
(80 % of a core at the 32-worker cost per report), run to check it. Real workers report
every 3 s (Locust's interval), so a master holds three times as many of them.
"""
    replace_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "workers":
        from gevent import monkey

        monkey.patch_all()
        simulated_workers("127.0.0.1", int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
