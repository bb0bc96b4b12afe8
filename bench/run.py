"""chatstorm benchmarks: ``make bench`` (about fifteen minutes on 2 cores).

Every figure comes from real headless Locust processes against the reference agent over
the mock transport, measured once all users have spawned (``--reset-stats``):

- accuracy: the reference agent answers exactly 200 ms after a message (debounce 0.1 s +
  thinking 0.1 s), so the measured first_reply minus 200 ms is the harness's own delay;
- capacity: the most users per process whose first_reply stays within 5 ms (p99) of
  that schedule, at one message per second per user and at one per ten seconds;
- CPU per message: the process's CPU time over the steady state, per message sent or
  received, and the same for bare Locust users doing the same sends and waits with no
  harness logic (the overhead ratio);
- memory per conversation: the growth of the process's resident memory per user;
- lockstep: the 3,000-user 1 msg/s load again, with one fixed think time for every user.

Think times are ranges (people vary). With one fixed think time, the users that a
slightly late loop iteration served together get their replies together and so send
together again, turn after turn: clusters of users in step, which make the loop late
again. That load is harsher than any crowd of people, so it has its own row and does not
count towards capacity.

Results go to bench/RESULTS.md with the date, the machine and the command.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SCHEDULE_MS = 200.0
ACCURACY_MS = 5.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
QUICK = os.environ.get("BENCH_QUICK") == "1"  # a smoke run of the script itself
SPAWN_RATE = 500
STEADY_S = 8 if QUICK else 30
PER_SECOND_USERS = (100, 200) if QUICK else (500, 1000, 2000, 3000, 4000, 5000)
PER_TEN_SECONDS_USERS = (500,) if QUICK else (5000, 10000, 15000)
# The load of the bare-Locust baseline and the lockstep row: the 3,000 users.
COMPARED_USERS = 200 if QUICK else 3000
LOCKSTEP = "1 msg/s, lockstep"


@dataclass
class Run:
    label: str
    users: int
    messages: int
    cpu_s: float
    steady_s: float
    rss_mb: float
    first_reply: dict | None = None
    loop_lag_p99: float | None = None
    cpu_warning: bool = False
    steal: float = 0.0
    """Share of the machine's CPU time the host took away during the steady state."""

    @property
    def cpu_ms_per_message(self) -> float:
        return self.cpu_s * 1000 / self.messages if self.messages else float("nan")

    @property
    def error_p99(self) -> float:
        return self.first_reply["p99"] - SCHEDULE_MS if self.first_reply else float("nan")


def machine_steal() -> tuple[int, int]:
    """(stolen, total) CPU ticks of the whole machine so far, from /proc/stat: on a virtual
    machine, time the host gave to others, which slows every figure here."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return ticks[7], sum(ticks)


def locust_command(locustfile: Path) -> list[str]:
    """Locust in a subprocess of this Python, with ``locustfile``."""
    return [sys.executable, "-m", "locust", "-f", str(locustfile)]


def proc_sample(pid: int) -> tuple[float, float]:
    """(CPU seconds, resident MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return cpu, rss_pages * PAGE / 2**20


def locust(label: str, users: int, locustfile: Path, extra: list[str], env: dict) -> Run:
    spawn_s = users / SPAWN_RATE
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            *locust_command(locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(SPAWN_RATE),
            "-t",
            f"{spawn_s + 2 + STEADY_S:.0f}s",
            "--reset-stats",
            "--only-summary",
            "--json-file",
            f"{tmp}/locust",
            *extra,
        ]
        if locustfile.name == "telegram.py":
            command += ["--report-dir", tmp, "--no-transcripts"]
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr: list[str] = []
        reader = threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)
        reader.start()
        time.sleep(spawn_s + 2)
        cpu_start, _ = proc_sample(process.pid)
        steal_start = machine_steal()
        started = time.monotonic()
        rss = cpu_end = 0.0
        while process.poll() is None and time.monotonic() - started < STEADY_S - 1:
            cpu_end, rss = proc_sample(process.pid)
            time.sleep(0.5)
        steady = time.monotonic() - started
        steal_end = machine_steal()
        stolen, total = (end - start for end, start in zip(steal_end, steal_start, strict=True))
        process.wait(timeout=120)
        reader.join(timeout=10)
        stats = json.loads(Path(f"{tmp}/locust.json").read_text())
        sends = sum(e["num_requests"] for e in stats if e["method"] == "send")
        replies = sum(e["num_requests"] for e in stats if e["method"] == "first_reply")
        run = Run(label, users, sends + replies, cpu_end - cpu_start, steady, rss)
        run.steal = stolen / total if total else 0.0
        run.messages = round(run.messages * steady / _stats_window(stats))
        run.cpu_warning = any("CPU usage" in line for line in stderr)
        report_path = Path(tmp) / "report.json"
        if report_path.exists():
            report = json.loads(report_path.read_text())
            run.first_reply = report["totals"]["latency_ms"]["first_reply"]
            run.loop_lag_p99 = report["run"]["loop_lag_ms"]["p99"]
    return run


def _stats_window(stats: list[dict]) -> float:
    """Seconds the (reset) Locust stats cover."""
    return max(e["last_request_timestamp"] for e in stats) - min(e["start_time"] for e in stats)


def main() -> None:
    telegram = REPO / "locustfiles" / "telegram.py"
    per_second = ["--scenario", str(BENCH / "scenarios" / "one_per_second.yaml")]
    per_ten = ["--scenario", str(BENCH / "scenarios" / "one_per_ten_seconds.yaml")]
    lockstep = ["--scenario", str(BENCH / "scenarios" / "one_per_second_lockstep.yaml")]
    runs: list[Run] = []
    for users in PER_SECOND_USERS:
        runs.append(locust("1 msg/s", users, telegram, per_second, {}))
        print(describe(runs[-1]), flush=True)
    for users in PER_TEN_SECONDS_USERS:
        runs.append(locust("1 msg/10 s", users, telegram, per_ten, {}))
        print(describe(runs[-1]), flush=True)
    runs.append(locust(LOCKSTEP, COMPARED_USERS, telegram, lockstep, {}))
    print(describe(runs[-1]), flush=True)
    bare = locust("bare Locust, 1 msg/s", COMPARED_USERS, BENCH / "bare_locustfile.py", [], {})
    print(describe(bare), flush=True)
    write_results(runs, bare)


def describe(run: Run) -> str:
    accuracy = ""
    if run.first_reply:
        f = run.first_reply
        accuracy = (
            f" first_reply p50/p95/p99 {f['p50']}/{f['p95']}/{f['p99']} ms"
            f" (schedule {SCHEDULE_MS:.0f}), loop lag p99 {run.loop_lag_p99} ms,"
        )
    return (
        f"{run.label:>22} {run.users:>6} users:{accuracy} {run.messages / run.steady_s:,.0f}"
        f" msg/s, {run.cpu_ms_per_message:.3f} ms CPU/msg, {run.rss_mb:,.0f} MB"
        f"{', CPU WARNING' if run.cpu_warning else ''}, host steal {run.steal:.0%}"
    )


HEADER = (
    "| load | users | msg/s | first_reply p50 / p95 / p99 ms | p99 error ms | loop lag p99 ms "
    "| CPU ms/msg | RSS MB | Locust CPU warning | host steal |\n"
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |"
)


def write_results(runs: list[Run], bare: Run) -> None:
    def capacity(label: str) -> str:
        held = [
            r.users
            for r in runs
            if r.label == label and r.error_p99 <= ACCURACY_MS and not r.cpu_warning
        ]
        return f"{max(held):,} users" if held else "below the smallest load tried"

    same_load = next(r for r in runs if r.label == "1 msg/s" and r.users == bare.users)
    per_second = sorted((r for r in runs if r.label == "1 msg/s"), key=lambda r: r.users)
    memory = (
        (per_second[-1].rss_mb - per_second[0].rss_mb)
        * 1024
        / (per_second[-1].users - per_second[0].users)
    )
    rows = "\n".join(
        f"| {r.label} | {r.users:,} | {r.messages / r.steady_s:,.0f} | "
        f"{r.first_reply['p50']:.0f} / {r.first_reply['p95']:.0f} / {r.first_reply['p99']:.0f} | "
        f"{r.error_p99:+.1f} | {r.loop_lag_p99} | {r.cpu_ms_per_message:.3f} | {r.rss_mb:,.0f} | "
        f"{'yes' if r.cpu_warning else 'no'} | {r.steal:.0%} |"
        for r in runs
    )
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    text = f"""# chatstorm benchmark results

Measured {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} on {os.cpu_count()} cores ({cpu}),
{round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30)} GiB, Python {platform.python_version()},
locust {version("locust")}, gevent {version("gevent")}, uvloop {version("uvloop")}.
Command: `make bench` (`bench/run.py`; how each figure is measured is in its docstring).

One Locust process, the reference agent over the mock transport, {STEADY_S} s of steady
state after all users spawned. The agent answers exactly {SCHEDULE_MS:.0f} ms after each
message, so first_reply minus {SCHEDULE_MS:.0f} ms is the harness's own delay. "Host
steal" is the share of the machine's CPU time its virtual machine host gave to others
during the steady state: where it is high, every figure in that row is slower.

{HEADER}
{rows}

- **Capacity** (first_reply within {ACCURACY_MS:.0f} ms of the schedule at p99, no CPU
  warning): {capacity("1 msg/s")} at one message per second per user;
  {capacity("1 msg/10 s")} at one message every ten seconds.
- **CPU per message**: {same_load.cpu_ms_per_message:.3f} ms with the harness, against
  {bare.cpu_ms_per_message:.3f} ms for bare Locust users doing the same sends and waits
  ({bare.users:,} users, 1 msg/s): the harness costs
  {same_load.cpu_ms_per_message / bare.cpu_ms_per_message:.1f}x a bare user. The harness figure
  includes the reference agent, which runs in the same process.
- **Memory per conversation**: {memory:.0f} KiB (resident memory growth from
  {per_second[0].users:,} to {per_second[-1].users:,} users).
- **Lockstep** (not counted above): the same {bare.users:,} users with one fixed think
  time instead of a range. Users a late loop iteration served together are answered
  together and send together again, turn after turn; the clusters grow and the loop
  runs later. People vary; give think times a range.
"""
    target = BENCH / ("RESULTS.quick.md" if QUICK else "RESULTS.md")
    target.write_text(text)
    print(f"written to {target}")


if __name__ == "__main__":
    main()
