"""``harness health``: the container's HEALTHCHECK, one image for every role.

Each role is healthy for its own reason: a master when its web UI answers (or, headless,
its worker port accepts), a worker while it holds a connection to its master, the Bot
API emulator when its HTTP API answers. The role comes from ``CHATSTORM_ROLE`` or from
Locust's own settings (``LOCUST_MODE_MASTER``, ``LOCUST_MODE_WORKER``), so the manifests
set nothing extra for Locust processes.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

import typer

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
ESTABLISHED = "01"
TIMEOUT_S = 3.0


def role_of(env: Mapping[str, str]) -> str:
    if env.get("CHATSTORM_ROLE"):
        return env["CHATSTORM_ROLE"]
    if _true(env.get("LOCUST_MODE_MASTER")):
        return "master"
    if _true(env.get("LOCUST_MODE_WORKER")):
        return "worker"
    return "standalone"


def check(role: str, env: Mapping[str, str]) -> str | None:
    """None when healthy, else why not (one line)."""
    web = f"http://127.0.0.1:{env.get('LOCUST_WEB_PORT', '8089')}/"
    if role == "emulator":
        return _answers(f"http://127.0.0.1:{env.get('CHATSTORM_BOTAPI_PORT', '8081')}/")
    if role == "worker":
        port = int(env.get("LOCUST_MASTER_NODE_PORT", "5557"))
        tables = (path.read_text() for path in TCP_TABLES if path.exists())
        if established_to(port, tables):
            return None
        return f"no connection to the master's port {port}"
    if role == "run" or (role == "standalone" and _true(env.get("LOCUST_HEADLESS"))):
        return None  # a headless run is alive while its process is
    if role == "master" and _true(env.get("LOCUST_HEADLESS")):
        return _accepts(int(env.get("LOCUST_MASTER_BIND_PORT", "5557")))
    if role in ("master", "standalone"):
        return _answers(web)
    return f"unknown role {role!r}: CHATSTORM_ROLE is master, worker, emulator or run"


def established_to(port: int, tables: Iterable[str]) -> bool:
    """Whether /proc/net/tcp{,6} list an established connection to ``port``."""
    wanted = f"{port:04X}"
    for table in tables:
        for row in table.splitlines()[1:]:
            fields = row.split()
            connected = len(fields) > 3 and fields[3] == ESTABLISHED
            if connected and fields[2].rsplit(":", 1)[-1] == wanted:
                return True
    return False


def _answers(url: str) -> str | None:
    """Any HTTP answer counts (a login page, a 404): the server is up."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"{url} answered {exc.code}"
    except OSError as exc:
        return f"{url} does not answer: {getattr(exc, 'reason', exc)}"


def _accepts(port: int) -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S):
            return None
    except OSError as exc:
        return f"port {port} does not accept connections: {exc.strerror or exc}"


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def health() -> None:
    """The container's health check: exit 0 when this process's role is healthy, 1 with
    the reason. The role: CHATSTORM_ROLE (master, worker, emulator, run), else Locust's
    LOCUST_MODE_MASTER / LOCUST_MODE_WORKER."""
    role = role_of(os.environ)
    problem = check(role, os.environ)
    if problem is not None:
        typer.echo(f"chatstorm {role}: unhealthy: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"chatstorm {role}: healthy")
