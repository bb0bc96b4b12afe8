"""Every transport a run can name: one line per transport."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.transport.botapi import BOTAPI
from harness.transport.kind import TransportChoice, TransportKind
from harness.transport.mock import MOCK
from harness.transport.telethon import TELETHON

TRANSPORTS: dict[str, TransportKind] = {kind.name: kind for kind in (MOCK, BOTAPI, TELETHON)}


def choose_transport(values: Mapping[str, Any]) -> TransportChoice:
    """The transport ``values["transport"]`` names, with its settings from ``values``.

    Raises ValueError naming the transports there are."""
    name = values.get("transport") or MOCK.name
    kind = TRANSPORTS.get(name)
    if kind is None:
        raise ValueError(f"unknown transport {name!r}: choose one of {', '.join(TRANSPORTS)}")
    return TransportChoice(kind, kind.settings(values))


def default_transport() -> TransportChoice:
    """The mock transport, as a run that names none uses it."""
    return choose_transport({})
