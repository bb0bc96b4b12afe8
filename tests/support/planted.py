"""Planted credentials, and finding them wherever a run may have let them slip.

Every credential a run can be given has an unmistakable value here, all of them marked
``PLANTED``. ``Planted.leaks`` looks for each in what a run printed or wrote, as is and
in the forms a leak takes on the way: URL-quoted (a URL in a log line), JSON- or
repr-escaped (a dict or an exception dumped), hex, and base64 (standard or URL-safe) at
any alignment inside a longer encoded text, as an auth header or a pickled session
would carry it.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

MARKER = "PLANTED"
ANTHROPIC_KEY = "sk-ant-PLANTED-anthropic-7f3c2d91e4b8a6c0"
WRONG_ANTHROPIC_KEY = "sk-ant-PLANTED-wrong-anthropic-1b9e5a7c3d2f"
API_HASH = "PLANTED-apihash-c41f9e27b8d3a650"
BOT_TOKEN = "7770042:PLANTED-bottoken-a4d2e8f1c9b7"
LINK_TOKEN = "PLANTED-linktoken-5d8b1f3e9a7c2046"
REDIS_PASSWORD = "PLANTED-redispw-9c4e7a1f3b5d8026"
WRONG_REDIS_PASSWORD = "PLANTED-wrong-redispw-2e6f0a4c"
TWO_STEP_PASSWORD = "PLANTED-2fa-password-83d1c6b0"


def auth_key(n: int) -> bytes:
    """A Telegram auth key (256 bytes) that reads as planted wherever its bytes show."""
    return (f"PLANTED-authkey-{n}-".encode() * 16)[:256]


def redis_url(port: int, password: str = REDIS_PASSWORD) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/0"


def forms(value: bytes) -> set[bytes]:
    """``value`` as it may appear in a text or file that leaked it."""
    text = value.decode("latin-1")
    found = {
        value,
        urllib.parse.quote(text, safe="").encode(),
        urllib.parse.quote_plus(text).encode(),
        json.dumps(text)[1:-1].encode(),
        repr(value)[2:-1].encode(),
        value.hex().encode(),
        value.hex().upper().encode(),
    }
    for core in _base64_cores(value):
        found |= {core, core.translate(bytes.maketrans(b"+/", b"-_"))}
    return found


def _base64_cores(value: bytes) -> set[bytes]:
    """The base64 characters that encode ``value`` alone, for each of the three ways it
    can sit against the 3-byte groups of a longer encoded text."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + value)
        first = -(-8 * shift // 6)  # the first character with no bit of the filler
        last = 8 * (shift + len(value)) // 6  # past the last one with no bit after value
        cores.add(encoded[first:last])
    return cores


@dataclass(frozen=True)
class Planted:
    """Named secrets, looked for in every form ``forms`` lists."""

    values: Mapping[str, bytes]

    @cached_property
    def _searched(self) -> dict[str, set[bytes]]:
        return {name: forms(value) for name, value in self.values.items()}

    def leaks(self, data: str | bytes) -> set[str]:
        """The names of the secrets ``data`` shows, in any form; ``marker`` when it shows
        a piece of one (every planted value holds ``PLANTED``)."""
        blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        found = {name for name, shapes in self._searched.items() if any(s in blob for s in shapes)}
        if MARKER.encode() in blob:
            found.add("marker")
        return found

    def leaks_everywhere(
        self, texts: Mapping[str, str | bytes], *roots: Path
    ) -> dict[str, set[str]]:
        """Where a secret shows, and which: in each of ``texts`` (by where it came
        from), and in every file under ``roots``."""
        found = {where: self.leaks(text) for where, text in texts.items()}
        found.update(self.leaks_in_files(*roots))
        return {where: names for where, names in found.items() if names}

    def leaks_in_files(self, *roots: Path) -> dict[str, set[str]]:
        """For every file under ``roots`` (a root may be a file) whose name or contents
        show a secret: its path and the secrets'."""
        leaked = {}
        for path in _files(roots):
            found = self.leaks(str(path)) | self.leaks(path.read_bytes())
            if found:
                leaked[str(path)] = found
        return leaked


def _files(roots: Iterable[Path]) -> list[Path]:
    files = []
    for root in roots:
        files += [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    return files


PLANTED = Planted(
    {
        "anthropic key": ANTHROPIC_KEY.encode(),
        "wrong anthropic key": WRONG_ANTHROPIC_KEY.encode(),
        "api_hash": API_HASH.encode(),
        "bot token": BOT_TOKEN.split(":")[1].encode(),
        "link token": LINK_TOKEN.encode(),
        "redis password": REDIS_PASSWORD.encode(),
        "wrong redis password": WRONG_REDIS_PASSWORD.encode(),
        "two-step password": TWO_STEP_PASSWORD.encode(),
        **{f"auth key {n}": auth_key(n) for n in range(3)},
    }
)
"""Every planted credential. A session string made with a planted auth key holds it in
base64, so it is found as that key."""
