"""Transports: how messages reach the agent. ``mock`` (the in-process reference agent)
and ``telethon`` (real Telegram user accounts) share one protocol."""

from harness.transport.base import (
    AgentMessage,
    Inbox,
    SentMessage,
    Session,
    Transport,
    TransportError,
)
from harness.transport.factory import TRANSPORTS, TransportSettings, open_transport
from harness.transport.mock import MockTransport

__all__ = [
    "TRANSPORTS",
    "AgentMessage",
    "Inbox",
    "MockTransport",
    "SentMessage",
    "Session",
    "Transport",
    "TransportError",
    "TransportSettings",
    "open_transport",
]
