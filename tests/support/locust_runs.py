"""Real Locust runs in subprocesses, and waiting on what they do.

Locust monkey-patches the whole process with gevent, so it never runs inside pytest's
own process: every test that needs it starts it here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "locustfiles" / "telegram.py"


def locust_command(locustfile: Path = LOCUSTFILE) -> list[str]:
    """Locust in a subprocess of this Python, with chatstorm's locustfile or another."""
    return [sys.executable, "-m", "locust", "-f", str(locustfile)]


LOCUST = locust_command()


def scenario_dir(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def locust(
    *args: str, timeout: float = 60, locustfile: Path = LOCUSTFILE
) -> subprocess.CompletedProcess:
    command = [*locust_command(locustfile), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=timeout)


def run_headless(
    scenarios: Path,
    *extra: str,
    users: int = 4,
    duration: str = "3s",
    scale: float = 0.1,
    locustfile: Path = LOCUSTFILE,
) -> subprocess.CompletedProcess:
    """A bounded headless run of the given scenarios (plus any other Locust options),
    with chatstorm's locustfile or another."""
    return locust(
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        duration,
        "--scenario",
        str(scenarios),
        "--time-scale",
        str(scale),
        "--only-summary",
        *extra,
        locustfile=locustfile,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def http(url: str, form: dict | None = None) -> bytes | None:
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return response.read()
    except OSError:
        return None


@contextlib.contextmanager
def web_ui(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Locust with its web UI on a free port of 127.0.0.1 (chatstorm's default host):
    (base URL, the process). The process is stopped on the way out (SIGTERM, then kill),
    its output left to read."""
    port = free_port()
    process = subprocess.Popen(
        [*LOCUST, "--web-port", str(port), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


WEB_PAGES = (
    "/",
    "/chatstorm/stats",
    "/stats/requests",
    "/stats/requests/csv",
    "/stats/failures/csv",
    "/stats/report",
    "/exceptions",
    "/exceptions/csv",
    "/tasks",
    "/logs",
)
"""What the web UI serves: Locust's pages and JSON, and chatstorm's."""


@dataclass
class WatchedRun:
    returncode: int
    stdout: str
    stderr: str
    pages: dict[str, bytes]
    """Each of ``WEB_PAGES`` as it was served mid-run."""


def run_watched(
    *args: str, ready: Callable[[dict], bool], during: Callable[[], None] = lambda: None
) -> WatchedRun:
    """A run that starts at once with its web UI (``--autostart``) and quits when it
    ends. Once ``ready`` holds for ``/chatstorm/stats``, every page of the UI is read;
    then ``during()`` runs (to break something mid-run) and the run is waited for."""
    with web_ui("--autostart", "--autoquit", "0", "--only-summary", *args) as (base, process):

        def live() -> dict | None:
            assert process.poll() is None, process.stderr.read()[-3000:]
            served = http(base + "/chatstorm/stats")
            stats = json.loads(served) if served else None
            return stats if stats and ready(stats) else None

        wait_for(live, 60, "the run to get going")
        pages = {path: http(base + path) for path in WEB_PAGES}
        missing = [path for path, page in pages.items() if not page]
        assert not missing, f"the web UI did not serve {missing}"
        during()
        out, err = process.communicate(timeout=90)
    return WatchedRun(process.returncode, out, err, pages)


def worker_file(fleet: Path, worker: str, name: str) -> Path:
    """A worker keeps its own files in <its id>/ under its --worker-report-dir (here
    ``fleet/worker``)."""
    (found,) = (fleet / worker).glob(f"*/{name}")
    return found
