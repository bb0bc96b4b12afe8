"""Transports: how messages reach the agent. ``mock`` (the in-process reference agent),
``botapi`` (a real bot through the Bot API emulator) and ``telethon`` (real Telegram user
accounts) share one protocol (``base``); ``factory`` opens the one a run names, importing
only that one (and what it stands on: aiohttp, Telethon, Redis)."""

from harness.transport.base import (
    AgentMessage,
    Inbox,
    SentMessage,
    Session,
    Transport,
    TransportError,
)

__all__ = ["AgentMessage", "Inbox", "SentMessage", "Session", "Transport", "TransportError"]
