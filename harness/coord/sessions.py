"""Accounts files, one Telethon StringSession per line, and what a session string looks
like. Kept apart from the pool (no Redis client): the command line checks an
``--accounts-file`` before a run starts, and ``harness accounts`` reads the same way."""

from __future__ import annotations

import re
from pathlib import Path

from harness.options import input_file, shown

SESSION = re.compile(r"[A-Za-z0-9_\-+/=]+")
"""A StringSession is base64 text: a JSON line, binary or a sentence is not one."""
NOT_A_SESSION = "not a session string: expected one Telethon StringSession"


def check_session(session: str) -> str:
    """The session, stripped; ValueError (never quoting it: it is a credential) when it
    is not one."""
    session = session.strip()
    if not SESSION.fullmatch(session):
        raise ValueError(NOT_A_SESSION)
    return session


def read_sessions_file(path: Path) -> list[tuple[int, str]]:
    """(line number, session) for each session in a file: one StringSession per line,
    blank lines and ``#`` comments skipped. OSError when it cannot be read, ValueError
    when it is not text."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(
            f"{shown(str(path))} is not a text file (not UTF-8): one session per line"
        ) from None
    return [
        (number, line.strip())
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def sessions_file(text: str) -> str:
    """An ``--accounts-file``: readable, with at least one session, every line one."""
    path = Path(input_file(text))
    try:
        sessions = read_sessions_file(path)
    except OSError as exc:
        raise ValueError(f"cannot read {shown(text)}: {exc.strerror or exc}") from None
    if not sessions:
        raise ValueError(
            f"{shown(text)} holds no session: write one Telethon StringSession per line"
        )
    for number, session in sessions:
        try:
            check_session(session)
        except ValueError as exc:
            raise ValueError(f"{shown(text)}:{number}: {exc}") from None
    return text
