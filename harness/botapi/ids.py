"""Identifiers that must keep growing across restarts of the emulator.

A bot drops any update whose ``update_id`` is below the offset it has confirmed, so a
restarted emulator that counted again from 1 would be silently ignored. User ids must not
repeat either: a bot keeps per-user state. Writing the file on every update would cost a
disk write per message, so ids are reserved in blocks: the file records the end of the
current block, and a restart continues after it (ids jump, but never go back).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from harness.files import write_json_atomically

BLOCK = 10_000
USERS = "users"  # the counter of simulated users (and their private chats)


def default_state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "chatstorm" / "botapi.json"


class IdStore:
    """Increasing counters by name (``"users"``, ``"updates:<bot id>"``), kept in a file.

    Only bot ids are written, never tokens."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._reserved: dict[str, int] = _load(path)
        self._next: dict[str, int] = dict(self._reserved)

    def next(self, name: str) -> int:
        value = self._next.get(name, 0) + 1
        self._next[name] = value
        if value > self._reserved.get(name, 0):
            self._reserved[name] = value + BLOCK - 1
            self._save()
        return value

    def _save(self) -> None:
        if self._path is not None:
            write_json_atomically(self._path, self._reserved, ".botapi-state-")


def _load(path: Path | None) -> dict[str, int]:
    if path is None or not path.exists():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        raise ValueError(
            f"{path} is not the emulator's state file (not JSON); move it away or choose "
            "another with --state"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
        raise ValueError(f"{path} is not the emulator's state file; choose another with --state")
    return data
