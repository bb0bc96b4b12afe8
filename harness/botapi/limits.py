"""Telegram-like flood limits (``--telegram-limits``; off by default).

Telegram allows a bot about one message per second in a chat (short bursts pass), about
30 per second over all its chats and 20 per minute in a group, and answers a faster bot
with 429 and ``retry_after``. Each limit here is a token bucket. A chat that was told to
wait stays blocked until its ``retry_after`` has passed; a request inside that wait is
answered 429 again and counted as ``retry_after_ignored``, the mark of a bot that would
be throttled ever harder by the real Telegram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.botapi.errors import ApiError


@dataclass(frozen=True)
class Limits:
    chat_per_s: float = 1.0
    chat_burst: int = 3
    bot_per_s: float = 30.0
    group_per_minute: int = 20


class Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: one is there now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class RateLimiter:
    """One bot's limits: per chat, per group, and over all its chats."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._bot: Bucket | None = None
        self._chats: dict[int, Bucket] = {}
        self._groups: dict[int, Bucket] = {}
        self._blocked_until: dict[int, float] = {}

    def check(self, chat_id: int, group: bool, now: float) -> None:
        """Let one message to ``chat_id`` through, or raise the 429 Telegram would send."""
        blocked = self._blocked_until.get(chat_id, 0.0)
        if now < blocked:
            raise _too_many(math.ceil(blocked - now), "retry_after_ignored")
        limits = self.limits
        if self._bot is None:
            self._bot = Bucket(limits.bot_per_s, limits.bot_per_s, now)
        buckets = [
            self._bot,
            _bucket(self._chats, chat_id, limits.chat_per_s, limits.chat_burst, now),
        ]
        if group:
            per_minute = limits.group_per_minute
            buckets.append(_bucket(self._groups, chat_id, per_minute / 60, per_minute, now))
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            self._blocked_until[chat_id] = now + seconds
            raise _too_many(seconds, "rate_limited")
        for bucket in buckets:
            bucket.take()

    def forget(self, chat_id: int) -> None:
        """The chat is gone: its buckets go too, so a long run's memory stays flat."""
        self._chats.pop(chat_id, None)
        self._groups.pop(chat_id, None)
        self._blocked_until.pop(chat_id, None)


def _too_many(seconds: int, category: str) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {seconds}", retry_after=seconds, category=category
    )


def _bucket(table: dict[int, Bucket], key: int, rate: float, capacity: float, now: float) -> Bucket:
    bucket = table.get(key)
    if bucket is None:
        bucket = table[key] = Bucket(rate, capacity, now)
    return bucket
