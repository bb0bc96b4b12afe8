"""The fleet as deploy/compose.yaml starts it, one network namespace per role: a private
redis-server, the Bot API emulator, the python-telegram-bot example bot, a master and
its workers, each from its compose service's command and environment, reaching the
others by service name over their own addresses.

Three bounded runs:

- clean: a worker started before the master, three in all; every message the bot logged
  as received and sent is in the master's one transcripts.jsonl exactly once;
- rough: one worker SIGKILLed mid-run, Redis (the LLM personas' shared cache) restarted
  mid-run, a fourth worker joining at half time. The master ends on time, names the lost
  worker, counts the late one, and the log says what happened to Redis once each way;
- over Telegram (the telethon transport against the local Telegram, accounts leased
  through Redis): a worker SIGKILLed frees its accounts within the lease's TTL, and a
  Redis restarted without its data gets its account pool back from --accounts-file.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from harness.local_telegram.server import LocalTelegram
from tests.fakes.anthropic_server import API_KEY, MessagesServer
from tests.support.botapi import emulator_stats
from tests.support.compose import service
from tests.support.fleet import has_streamed
from tests.support.locust_runs import free_port, read_jsonl, wait_for
from tests.support.netns import Host, Network
from tests.support.stop_timing import seconds_after_run_end

ROLES = ["redis", "emulator", "bot", "master", "w1", "w2", "w3", "w4"]
SCALE = "0.5"
SCRIPTED = """\
name: Rehearsal
pattern: "C2 A1 C1 A1"
max_turns: 2
persona:
  multi_message_probability: 0
  script:
    openers: ["Hello, order {order} is late."]
    messages: ["It was due on {day}."]
    closings: ["Thanks, bye."]
    slots: {order: [A-101, B-202, C-303, D-404], day: [Monday, Tuesday, Friday]}
timing: {inter_message_delays: [[0.2, 0.4]], think_time: [1, 2]}
collect: {first_reply_timeout: 10, quiet_window: 1.0}
"""
THINKING = """\
name: Thinking
pattern: "C1 A1"
max_turns: 2
persona:
  engine: llm
  objective: get a late order delivered
  multi_message_probability: 0
timing: {think_time: [1, 2]}
collect: {first_reply_timeout: 10, quiet_window: 1.0}
"""


@dataclass
class Fleet:
    """The rehearsal's processes, each on its host, each killed on the way out."""

    network: Network
    folder: Path
    secrets: dict[str, str]
    scenarios: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def host(self, role: str) -> Host:
        return self.network.hosts[role]

    def start(self, role: str, compose_service: str, *more: str) -> subprocess.Popen:
        """``compose_service``'s command and environment, run on ``role``'s host."""
        paths = {
            "/app/scenarios": self.scenarios,
            "/app": Path(__file__).resolve().parents[2],
            "/reports": self.folder / "reports",
            "/state": self.folder / f"state-{role}",
            "/tmp": self.folder / f"tmp-{role}",
        }
        for path in paths.values():
            path.mkdir(parents=True, exist_ok=True)
        hosts = {name: self.network.name_of(name) for name in ("redis", "emulator", "master")}
        spec = service(compose_service, self.secrets, paths, hosts, self.ports)
        env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **spec.env}
        if compose_service in ("master", "worker"):
            env |= {"LOCUST_SCENARIO": str(self.scenarios), "LOCUST_TIME_SCALE": SCALE}
            env |= self.extra_env
        log = (self.folder / f"{role}.log").open("ab")
        process = subprocess.Popen(
            self.host(role).command([*spec.argv, *more]),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
        )
        self.processes[role] = process
        return process

    @property
    def ports(self) -> dict[str, str]:
        """On 127.0.0.1 the roles share one address: the fixed ports move to free ones."""
        if self.network.isolated:
            return {}
        if not hasattr(self, "_ports"):
            self._ports = {p: str(free_port()) for p in ("6379", "8081", "5557")}
        return self._ports

    def port(self, port: str) -> int:
        return int(self.ports.get(port, port))

    def log(self, role: str) -> str:
        return (self.folder / f"{role}.log").read_text(errors="replace")

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """``wait_for``, whose failure shows how far each process had got."""
        try:
            wait_for(predicate, timeout, what)
        except AssertionError as timed_out:
            tails = "".join(
                f"\n--- {role}.log\n{self.log(role)[-1500:]}" for role in self.processes
            )
            raise AssertionError(f"{timed_out}{tails}") from None

    def stop(self, role: str, how: int = signal.SIGTERM) -> None:
        process = self.processes[role]
        if process.poll() is None:
            process.send_signal(how)
        process.wait(timeout=30)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()


@contextmanager
def fleet(
    tmp_path: Path, name: str, *scenario_texts: str, services: bool = True
) -> Iterator[Fleet]:
    folder = tmp_path / name
    scenarios = folder / "scenarios"
    scenarios.mkdir(parents=True)
    for index, text in enumerate(scenario_texts):
        (scenarios / f"s{index}.yaml").write_text(text)
    keys = {
        "REDIS_PASSWORD": secrets.token_hex(8),
        "CHATSTORM_BOT_TOKEN": f"{8000 + secrets.randbelow(999)}:rehearsal-{secrets.token_hex(4)}",
        "ANTHROPIC_API_KEY": API_KEY,
        "CHATSTORM_LINK_TOKEN": secrets.token_hex(8),
    }
    with Network(ROLES) as network:
        running = Fleet(network, folder, keys, scenarios)
        try:
            if services:
                _start_services(running)
            else:
                running.start("redis", "redis")
                running.wait_for(lambda: _redis_answers(running), 15, "redis-server to answer")
            yield running
        finally:
            running.close()


def _start_services(running: Fleet) -> None:
    """Redis, the emulator and the bot, each once the one before it answers."""
    running.start("redis", "redis")
    running.wait_for(lambda: _redis_answers(running), 15, "redis-server to answer")
    running.start("emulator", "emulator")
    emulator = _emulator_url(running)
    running.wait_for(lambda: _answers(emulator), 30, "the emulator to answer")
    running.start("bot", "bot")
    bot_id = running.secrets["CHATSTORM_BOT_TOKEN"].split(":")[0]
    link = running.secrets["CHATSTORM_LINK_TOKEN"]
    running.wait_for(
        lambda: emulator_stats(emulator, link)["bots"].get(bot_id, {}).get("polling"),
        60,
        "the example bot to poll the emulator",
    )


def _redis_answers(running: Fleet) -> bool:
    client = redis.Redis(
        host=running.host("redis").address,
        port=running.port("6379"),
        password=running.secrets["REDIS_PASSWORD"],
        socket_timeout=1,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _emulator_url(running: Fleet) -> str:
    return f"http://{running.host('emulator').address}:{running.port('8081')}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _master_args(running: Fleet, workers: int, run_time: str, *more: str) -> list[str]:
    return [
        "--headless",
        *["-u", "8", "-r", "8", "-t", run_time, "--expect-workers", str(workers)],
        "--only-summary",
        *more,
    ]


def _worker(running: Fleet, role: str, *more: str) -> subprocess.Popen:
    master = running.network.name_of("master")
    port = str(running.port("5557"))
    return running.start(role, "worker", "--master-host", master, "--master-port", port, *more)


def _master(running: Fleet, *args: str) -> subprocess.Popen:
    port = str(running.port("5557"))
    return running.start("master", "master", "--master-bind-port", port, *args)


def test_a_clean_run_has_every_message_the_bot_saw_exactly_once(tmp_path):
    with fleet(tmp_path, "clean", SCRIPTED) as running:
        _worker(running, "w1")  # before its master
        master = _master(running, *_master_args(running, 3, "14s", "--conversations-per-user", "2"))
        _worker(running, "w2")
        _worker(running, "w3")
        master.wait(timeout=120)
        assert master.returncode == 0, running.log("master")[-3000:]
        for role in ("w1", "w2", "w3"):
            running.processes[role].wait(timeout=30)
        running.stop("bot")
        reports = running.folder / "reports"
        report = json.loads((reports / "report.json").read_text())
        transcript = read_jsonl(reports / "transcripts.jsonl")
        batches = read_jsonl(running.folder / "tmp-bot" / "bot.jsonl")
    assert report["run"]["workers"] == 3
    assert report["totals"]["conversations"] == 8 * 2
    assert report["totals"]["conversations_interrupted"] == 0
    fleet_figures = report["fleet"]
    assert fleet_figures["lines_missing"] == 0 and not fleet_figures["lost"]
    assert len(fleet_figures["workers"]) == 3
    assert all(w["lines_received"] > 0 for w in fleet_figures["workers"].values())
    said = Counter(line["text"] for line in transcript if line["role"] == "client")
    replies = [line for line in transcript if line["role"] == "agent" and not line.get("action")]
    heard = Counter(line["text"] for line in replies)
    received = Counter(m["text"] for b in batches for m in b["received"])
    sent = Counter(m["text"] for b in batches for m in b["sent"])
    assert said == received and sum(said.values()) > 0
    assert heard == sent
    assert {line["run_id"] for line in transcript} == {report["run"]["run_id"]}


def test_a_rough_run_survives_a_killed_worker_a_redis_restart_and_a_late_joiner(tmp_path):
    with (
        fleet(tmp_path, "rough", SCRIPTED, THINKING) as running,
        MessagesServer(host=running.network.gateway) as api,
    ):
        llm = ("--llm-base-url", api.url)
        _worker(running, "w1", *llm)
        master = _master(running, *_master_args(running, 3, "30s", "--enable-rebalancing"), *llm)
        doomed = _worker(running, "w2", *llm)
        _worker(running, "w3", *llm)
        streamed = running.folder / "reports" / "transcripts.jsonl"
        running.wait_for(lambda: has_streamed(streamed, doomed), 60, "the doomed worker's lines")
        doomed.send_signal(signal.SIGKILL)
        running.stop("redis")  # down until a worker notices, then back

        def noticed() -> bool:
            return any("cache failed" in running.log(r) for r in ("w1", "w3"))

        running.wait_for(noticed, 30, "a worker to say the LLM cache failed")
        running.start("redis", "redis")
        running.wait_for(lambda: _redis_answers(running), 15, "redis-server to answer again")
        _worker(running, "w4", *llm)  # half time: a worker joins
        master.wait(timeout=120)
        exited_at = time.time()
        logs = {role: running.log(role) for role in ("master", "w1", "w3", "w4")}
        report = json.loads((running.folder / "reports" / "report.json").read_text())
    assert seconds_after_run_end(logs["master"], exited_at) < 30, logs["master"][-3000:]
    assert not any("Traceback" in text for text in logs.values())
    assert report["run"]["workers"] == 4
    figures = report["fleet"]
    (lost,) = figures["lost"]
    assert figures["workers"][lost]["status"] == "lost" and "Worker lost" in logs["master"]
    finished = [w for w in figures["workers"].values() if w["status"] == "finished"]
    assert len(finished) == 3 and all(w["lines_received"] > 0 for w in finished)  # w4 too
    ended = report["totals"]["end_reasons"]
    assert set(ended) <= {"max_turns", "persona_ended", "interrupted"}, ended
    for role in ("w1", "w3"):  # one line when the cache failed, one when it came back
        failed = logs[role].count("the LLM response cache failed")
        back = logs[role].count("the LLM response cache works again")
        assert failed <= 1 and back <= 1 and (failed == 0 or back == 1), logs[role][-2000:]


LEASE_TTL_S = 6.0
PLAIN = SCRIPTED.replace("Rehearsal", "Over Telegram").replace('"C2 A1 C1 A1"', '"C1 A C1 A"')


@contextmanager
def local_telegram(host: str) -> Iterator[LocalTelegram]:
    """The local Telegram on ``host`` (the test's address on the bridge), in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    telegram = LocalTelegram()
    asyncio.run_coroutine_threadsafe(telegram.start(host), loop).result(10)
    try:
        yield telegram
    finally:
        asyncio.run_coroutine_threadsafe(telegram.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _lease_holders(running: Fleet) -> dict[str, str]:
    """Account id -> who holds its lease, read from the fleet's Redis."""
    client = redis.Redis(
        host=running.host("redis").address,
        port=running.port("6379"),
        password=running.secrets["REDIS_PASSWORD"],
        socket_timeout=2,
        decode_responses=True,
    )
    try:
        return {
            key.rsplit(":", 1)[1]: client.get(key).split("|")[0]
            for key in client.scan_iter("chatstorm:lease:*")
            if client.get(key)
        }
    finally:
        client.close()


def test_over_telegram_a_killed_workers_accounts_come_back_and_so_does_the_pool(tmp_path):
    with (
        fleet(tmp_path, "telegram", PLAIN, services=False) as running,
        local_telegram(running.network.gateway) as telegram,
    ):
        telegram.add_bot("echobot", lambda account, text: [f"re: {text}"])
        accounts = running.folder / "accounts.txt"
        sessions = [telegram.new_account(f"+7911000{n:04d}") for n in range(9)]
        accounts.write_text("\n".join(sessions) + "\n")
        accounts.chmod(0o600)
        running.secrets["TG_API_HASH"] = secrets.token_hex(16)
        telethon = ["--transport", "telethon", "--bot", "@echobot", "--api-id", "1"]
        telethon += ["--accounts-file", str(accounts), "--lease-ttl", str(LEASE_TTL_S)]
        master = _master(running, *_master_args(running, 3, "30s"), *telethon)
        workers = {role: _worker(running, role, *telethon) for role in ("w1", "w2", "w3")}
        doomed = workers["w2"]

        def doomed_leases() -> list[str]:
            return [h for h in _lease_holders(running).values() if h.endswith(f":{doomed.pid}")]

        running.wait_for(doomed_leases, 60, "the doomed worker to lease accounts")
        run_id = next(iter(_lease_holders(running).values())).split("/")[0]
        doomed.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        running.wait_for(
            lambda: not doomed_leases(), LEASE_TTL_S + 10, "the dead worker's leases to lapse"
        )
        freed_after_s = time.monotonic() - killed_at
        running.stop("redis")
        running.start("redis", "redis")  # no persistence: it comes back empty
        running.wait_for(lambda: _redis_answers(running), 15, "redis-server to answer again")

        def refilled() -> bool:
            return any("added back the 9 accounts" in running.log(r) for r in ("w1", "w3"))

        running.wait_for(refilled, 30, "a worker to put the account pool back")
        running.wait_for(lambda: _lease_holders(running), 30, "accounts leased again")
        master.wait(timeout=120)
        logs = {role: running.log(role) for role in ("master", "w1", "w3")}
        report = json.loads((running.folder / "reports" / "report.json").read_text())
    print(f"leases freed {freed_after_s:.1f} s after the kill (TTL {LEASE_TTL_S} s)")
    assert freed_after_s <= LEASE_TTL_S + 2
    assert run_id == report["run"]["run_id"]  # the holder names the run
    assert not any("Traceback" in text for text in logs.values()), logs["master"][-3000:]
    assert report["fleet"]["lost"] and report["totals"]["conversations"] > 0
    for role in ("w1", "w3"):
        assert logs[role].count("added back the 9 accounts") <= 1
    secret = running.secrets["TG_API_HASH"]
    assert not any(secret in text for text in logs.values())
