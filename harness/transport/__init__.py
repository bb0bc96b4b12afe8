"""Transports: how messages reach the agent. ``mock`` (the in-process reference agent),
``botapi`` (a real bot through the Bot API emulator) and ``telethon`` (real Telegram user
accounts) share one protocol (``base``). Each has a kind (``kind``: its settings, options,
checks and ``open()``), listed in ``registry``; a run imports only the transport it names
(and what that stands on: aiohttp, Telethon, Redis)."""

from harness.transport.base import (
    AgentMessage,
    Inbox,
    SentMessage,
    Session,
    Transport,
    TransportError,
)

__all__ = ["AgentMessage", "Inbox", "SentMessage", "Session", "Transport", "TransportError"]
