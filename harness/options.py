"""Command-line options declared once, for every front end that runs conversations.

Locust's parser (``harness.locust.options``) and ``harness run`` render the same
declarations (``add_group``, onto a configargparse parser, which reads environment
variables too), so an option's name, default, environment variable and help text exist
in one place. A value's ``parse`` raises ValueError with a message that says what was
wrong.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Option:
    flag: str
    """``--time-scale``; its value is found under ``time_scale``."""
    help: str
    default: object = None
    parse: Callable[[str], object] | None = None
    env: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    switch: bool = False
    """Present or absent: takes no value."""
    repeat: bool = False
    """May be given more than once: its value is the list of them."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class OptionGroup:
    title: str
    description: str
    options: tuple[Option, ...]


MAX_WHOLE = 1_000_000
"""The largest count an option takes: a run of more conversations, users or retries than
this is a typo, and would hold memory for each before the first one starts."""


def positive_float(text: str) -> float:
    value = _finite(text)
    if not value > 0:
        raise ValueError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text}")
    return value


def fraction(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 1:
        raise ValueError(f"must lie between 0 and 1, got {text}")
    return value


def _finite(text: str) -> float:
    """A number, never NaN or infinite: either would make every wait endless or every
    comparison false."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0)


def _whole_number(text: str, minimum: int, maximum: int = MAX_WHOLE) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise ValueError(f"must be from {minimum} to {maximum:,}, got {text}")
    return value


def telegram_api_id(text: str) -> int:
    """An app's id from my.telegram.org: a positive 32-bit number."""
    return _whole_number(text, minimum=1, maximum=2**31 - 1)


def tcp_port(text: str) -> int:
    """A TCP port to listen on; 0 lets the system choose a free one."""
    return _whole_number(text, minimum=0, maximum=65535)


def host_port(text: str) -> str:
    """``HOST:PORT`` of a server to reach."""
    host, _, number = text.rpartition(":")
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"{text!r} is not HOST:PORT")
    _whole_number(number, minimum=1, maximum=65535)
    return text


_HOST = re.compile(r"[A-Za-z0-9._:%\[\]-]{1,253}")


def host(text: str) -> str:
    """A name or address to listen on: one word of a host name's or an IP's characters."""
    if not _HOST.fullmatch(text):
        raise ValueError(f"{text!r} is not a host name or IP address")
    return text


def label(text: str) -> str:
    """A name that ends up in keys, file contents and logs: printable, no spaces."""
    if not text or len(text) > 200 or not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError(f"expected 1 to 200 printable characters without spaces, got {text!r}")
    return text


def http_url(text: str) -> str:
    return _url(text, ("http", "https"), "an http:// or https:// URL with a host")


def redis_url(text: str) -> str:
    """redis://, rediss:// (with a host) or unix:// (with a path). The message never
    repeats the URL: it may carry a password."""
    expected = "redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://... or unix:///PATH"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError:
        raise ValueError(f"expected {expected}; its port must be a number up to 65535") from None
    needs = "path" if parts.scheme == "unix" else "hostname"
    if parts.scheme not in ("redis", "rediss", "unix") or not getattr(parts, needs):
        raise ValueError(f"expected {expected}")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"expected {expected}, without spaces")
    return text


def _url(text: str, schemes: tuple[str, ...], expected: str) -> str:
    """The URL, or ValueError repeating it, unless it carries a password."""
    got = "a URL with a password" if "@" in text else repr(text)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError:
        raise ValueError(f"expected {expected} and a port up to 65535, got {got}") from None
    if parts.scheme not in schemes or not parts.hostname or any(c.isspace() for c in text):
        raise ValueError(f"expected {expected}, got {got}")
    return text


_TIMESPAN = re.compile(r"(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?", re.ASCII)


def timespan(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m`` (Locust's format) -> seconds, more than 0."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        seconds = int(text)
    else:
        match = _TIMESPAN.fullmatch(text)
        if not text or match is None:
            raise ValueError(f"{text!r} is not a duration: write e.g. 90, 90s, 10m or 1h30m")
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise ValueError(f"must be longer than 0 seconds, got {text!r}")
    return float(seconds)


def shown(text: str) -> str:
    """A value as an error shows it: as given, or quoted when it holds a character that
    would break the error's one line (a newline, a control character)."""
    return text if text.isprintable() else repr(text)


def input_file(text: str) -> str:
    """A file to read: it exists, is a file, and can be read."""
    path = Path(text)
    if not path.exists():
        raise ValueError(f"{shown(text)}: no such file")
    if not path.is_file():
        raise ValueError(f"{shown(text)} is not a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{shown(text)}: cannot read it (permission denied)")
    return text


def output_file(text: str) -> str:
    """A file to write (created, with its folders, when the run writes it): not a
    folder, and below a folder that exists or can be made."""
    _given(text)
    if Path(text).is_dir():
        raise ValueError(f"{shown(text)} is a folder, not a file: give a file's path")
    _writable_below(Path(text).parent, text)
    return text


def output_folder(text: str) -> str:
    """A folder to write into (made when missing): not a file, below one that can be."""
    path = Path(_given(text))
    if path.exists() and not path.is_dir():
        raise ValueError(f"{shown(text)} is a file, not a folder: give a folder's path")
    _writable_below(path, text)
    return text


def _given(text: str) -> str:
    """A path, not an empty word (which would mean the current folder)."""
    if not text.strip():
        raise ValueError("an empty path: give a path")
    return text


def _writable_below(folder: Path, given: str) -> None:
    """The nearest existing folder above (or at) ``folder`` is a folder we may write in.
    Nothing is created: a run refused later leaves no folder behind."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"cannot write {shown(given)}: {shown(str(existing))} is a file, not a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {shown(given)}: {shown(str(existing))} is not writable")


def add_group(parser: argparse.ArgumentParser, group: OptionGroup) -> None:
    """One argument group on a configargparse parser (as Locust's is)."""
    arguments = parser.add_argument_group(group.title, group.description)
    for option in group.options:
        settings: dict[str, object] = {"default": option.default, "help": option.help}
        if option.switch:
            settings["action"] = "store_true"
        else:
            if option.repeat:
                settings["action"] = "append"
            if option.parse is not None:
                settings["type"] = _argparse_type(option.parse)
            if option.choices is not None:
                settings["choices"] = option.choices
            if option.metavar is not None:
                settings["metavar"] = option.metavar
        if option.env is not None:
            settings["env_var"] = option.env
        arguments.add_argument(option.flag, **settings)


def _argparse_type(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` with its ValueError's message as argparse's error."""

    def typed(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    typed.__name__ = parse.__name__
    return typed
