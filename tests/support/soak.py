"""The soak: one long headless Locust run, and whether the process holds still.

Shared by tests/e2e/test_soak.py (about three minutes) and bench/soak.py (thirty). One
Locust process runs chatstorm's own scenarios (``scenarios/``) plus an LLM persona whose
answers are cached in Redis, against the reference agent over the mock transport, with
2,000 users: 2,000 conversations live at once for the whole run, each user starting its
next one as soon as the last ends, so tens of thousands complete. Holding 2,000 at once
is what a leak would have to show against; finishing that many is what makes a
per-conversation leak (a task, a file, a buffer, a key left behind) add up.

Every few seconds the probe locustfile (tests/e2e/probes/soak_probe.py) prints the
asyncio tasks of the harness's loop and the conversations finished; as each line
arrives, this module reads the process's resident memory and open file descriptors from
/proc and counts the run's Redis keys (SCAN under its own prefix). Slopes are least
squares over the samples after the warm-up (spawning, the LLM cache filling, the
allocator's pools growing to the working set), per hour.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.locust_runs import REPO, locust_command

PROBE = REPO / "tests" / "e2e" / "probes" / "soak_probe.py"
PROBE_PREFIX = "soak-probe "
PAGE = os.sysconf("SC_PAGE_SIZE")
USERS = 2_000
SPAWN_RATE = 100
TIME_SCALE = 0.25
"""chatstorm's scenarios last 20-60 s of people's time: 5-15 s here, so each of the
2,000 users holds several conversations a minute: about 210 finish per second, 2,200
messages a second in all, a third of one core, which leaves the shared 2-core machine
room."""
SAMPLE_INTERVAL_S = 5.0

# An LLM persona, so the run reads and writes Redis: its answers are cached under
# {prefix}:llm:<hash>. Conversation k plays variant k mod 8; the agent's debounce (0.75 s
# here) is far above the persona's 0.1 s pauses, so it batches every burst the same way,
# its answers (part of the next prompt) repeat, and the keys stop at what 8 variants of 3
# turns ask. A key per conversation would be a leak.
LLM_SCENARIO = """\
name: Soak LLM Persona
weight: 2
pattern: "C A"
max_turns: 3
persona:
  name: Max
  objective: get a lost order resent
  personality: impatient
  max_messages_per_turn: 3
  engine: llm
  llm: {model: claude-haiku-4-5, max_tokens: 200, variants: 8}
timing: {inter_message_delays: [0.4], think_time: [1, 3]}
collect: {first_reply_timeout: 20, quiet_window: 2.0, max_collect: 30}
agent: {debounce_s: 3.0, think_time_s: 0.6, reply_parts: 1}
"""


@dataclass(frozen=True)
class Sample:
    """Every reading at one moment: the probe's line and what was read as it arrived."""

    t_s: float
    """Since the test started (the probe's clock)."""
    rss_mb: float
    fds: int
    tasks: int
    redis_keys: int
    conversations: int
    active: int


@dataclass
class Soak:
    """A finished soak: its samples, and how the Locust process ended."""

    samples: list[Sample]
    returncode: int
    stderr: str
    report_dir: Path
    warmup_s: float
    seconds: float = field(init=False)

    def __post_init__(self) -> None:
        self.seconds = self.samples[-1].t_s if self.samples else 0.0

    @property
    def steady(self) -> list[Sample]:
        """The samples after the warm-up."""
        return self.since(self.warmup_s)

    def since(self, t_s: float) -> list[Sample]:
        return [s for s in self.samples if s.t_s >= t_s]

    def slope_per_hour(self, name: str, since_s: float | None = None) -> float:
        """Least-squares slope of one reading per hour, over the samples after the warm-up
        (or after ``since_s``)."""
        start = self.warmup_s if since_s is None else since_s
        points = [(s.t_s, float(getattr(s, name))) for s in self.since(start)]
        if len(points) < 2:
            raise ValueError(f"too few samples after {start:.0f} s")
        mean_t = sum(t for t, _ in points) / len(points)
        mean_v = sum(v for _, v in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600

    @property
    def steady_conversations(self) -> int:
        """Conversations finished between the first and the last steady sample."""
        return self.steady[-1].conversations - self.steady[0].conversations

    @property
    def steady_hours(self) -> float:
        return (self.steady[-1].t_s - self.steady[0].t_s) / 3600

    def growth(self, name: str) -> float:
        """What the fitted line grew by over the steady samples."""
        return self.slope_per_hour(name) * self.steady_hours


def write_scenarios(folder: Path) -> list[str]:
    """``--scenario`` options: chatstorm's scenarios and the soak's LLM persona."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soak_llm.yaml").write_text(LLM_SCENARIO, encoding="utf-8")
    return ["--scenario", str(REPO / "scenarios"), "--scenario", str(folder)]


def count_keys(client: redis.Redis, prefix: str) -> int:
    """The run's keys, by SCAN (never KEYS, which blocks a shared Redis)."""
    return sum(1 for _ in client.scan_iter(match=f"{prefix}:*", count=1000))


def read_proc(pid: int) -> tuple[float, int]:
    """(resident MB, open file descriptors) of a running process."""
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return rss_pages * PAGE / 2**20, len(os.listdir(f"/proc/{pid}/fd"))


def run_soak(
    seconds: float,
    workdir: Path,
    redis_url: str,
    prefix: str,
    llm_url: str,
    warmup_s: float,
    env: dict[str, str] | None = None,
) -> Soak:
    """A headless run of ``seconds`` with the probe, sampled as described above; the
    report goes to ``workdir/report``. ``env`` adds to this process's environment (the
    Messages API key)."""
    report_dir = workdir / "report"
    command = [
        *locust_command(PROBE),
        "--headless",
        "-u", str(USERS),
        "-r", str(SPAWN_RATE),
        "-t", f"{seconds:.0f}s",
        *write_scenarios(workdir / "scenarios"),
        "--time-scale", str(TIME_SCALE),
        "--report-dir", str(report_dir),
        "--redis-url", redis_url,
        "--redis-prefix", prefix,
        "--llm-base-url", llm_url,
        "--seed", "16",
        "--only-summary",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **(env or {}), "SOAK_PROBE_INTERVAL_S": str(SAMPLE_INTERVAL_S)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples: list[Sample] = []
    stderr: list[str] = []
    client = redis.Redis.from_url(redis_url)
    readers = [
        threading.Thread(target=_sample_on_probe_lines, args=(process, client, prefix, samples)),
        threading.Thread(target=lambda: stderr.extend(process.stderr)),
    ]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=seconds + 180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for reader in readers:
            reader.join(timeout=30)
        client.close()
    return Soak(samples, process.returncode, "".join(stderr), report_dir, warmup_s)


def _sample_on_probe_lines(
    process: subprocess.Popen, client: redis.Redis, prefix: str, samples: list[Sample]
) -> None:
    for line in process.stdout:
        if not line.startswith(PROBE_PREFIX):
            continue
        probe = json.loads(line[len(PROBE_PREFIX) :])
        try:
            rss_mb, fds = read_proc(process.pid)
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            return
        samples.append(
            Sample(
                t_s=probe["t_s"],
                rss_mb=rss_mb,
                fds=fds,
                tasks=probe["tasks"],
                redis_keys=count_keys(client, prefix),
                conversations=probe["conversations"],
                active=probe["active"],
            )
        )
