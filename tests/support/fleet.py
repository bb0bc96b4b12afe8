"""A real Locust master and its workers on 127.0.0.1, the way the tests start them: one
launcher for every test that needs a fleet, every process killed on the way out."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.locust_runs import LOCUST, REPO, free_port


@dataclass
class Fleet:
    port: int
    master: subprocess.Popen
    env: dict[str, str] | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    def add_worker(self, *args: str) -> subprocess.Popen:
        """A worker of this master (its output, stdout and stderr, kept for ``finish``)."""
        command = [*LOCUST, "--worker", "--master-host", "127.0.0.1"]
        worker = subprocess.Popen(
            [*command, "--master-port", str(self.port), *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers.append(worker)
        return worker

    def finish(self, timeout: float) -> tuple[str, str, list[str]]:
        """Wait for every process to end: the master's stdout and stderr, each worker's
        output."""
        master_out, master_err = self.master.communicate(timeout=timeout)
        outputs = [worker.communicate(timeout=timeout)[0] for worker in self.workers]
        return master_out, master_err, outputs

    @property
    def return_codes(self) -> list[int | None]:
        return [process.returncode for process in (self.master, *self.workers)]

    def kill(self) -> None:
        for process in (self.master, *self.workers):  # never leave a Locust process behind
            if process.poll() is None:
                process.kill()
            process.wait()


@contextmanager
def locust_master(*args: str, env: dict[str, str] | None = None) -> Iterator[Fleet]:
    """A headless master on a free port of 127.0.0.1 (plus ``args``); add its workers.
    ``env``, when given, is every process's environment (secrets stay off the command
    line)."""
    port = free_port()
    command = [*LOCUST, "--master", "--master-bind-host", "127.0.0.1"]
    master = subprocess.Popen(
        [*command, "--master-bind-port", str(port), "--headless", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    fleet = Fleet(port, master, env)
    try:
        yield fleet
    finally:
        fleet.kill()


def has_streamed(transcripts: Path, worker: subprocess.Popen) -> bool:
    """Whether the master's transcripts hold a line of ``worker``'s (a conversation id
    names its worker and process: ``Name#w1.<pid>-3``)."""
    return transcripts.exists() and f".{worker.pid}-" in transcripts.read_text()
