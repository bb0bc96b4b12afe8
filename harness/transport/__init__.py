"""Transports: how messages reach the agent. mock (in-process reference agent) for now;
botapi and telethon plug into the same protocol."""

from __future__ import annotations

from collections.abc import Callable

from harness.agent.reference import BatchRecord
from harness.clock import Clock
from harness.transport.base import AgentMessage, Inbox, SentMessage, Session, Transport
from harness.transport.mock import MockTransport

TRANSPORTS = ("mock",)


def create_transport(
    name: str,
    clock: Clock,
    seed: int | str = 0,
    on_batch: Callable[[str, BatchRecord], object] | None = None,
) -> Transport:
    """The transport called ``name``; a ValueError names the ones available.

    ``on_batch`` receives the reference agent's finished batches (mock only).
    """
    if name == "mock":
        return MockTransport(clock, seed, on_batch)
    raise ValueError(f"unknown transport {name!r}: choose one of {', '.join(TRANSPORTS)}")


__all__ = [
    "TRANSPORTS",
    "AgentMessage",
    "Inbox",
    "MockTransport",
    "SentMessage",
    "Session",
    "Transport",
    "create_transport",
]
