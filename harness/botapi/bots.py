"""One emulated bot: its identity, its chats, and the queue of updates waiting for it.

Updates wait in the queue until the bot confirms them (``getUpdates`` with a higher
offset) or its webhook accepts them. A held long poll is one future: the next update
resolves it, a newer poll ends it with 409, its timeout with an empty answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from harness.botapi.chats import Chat, command_entities
from harness.botapi.errors import ApiError, bad_request
from harness.botapi.ids import IdStore
from harness.botapi.limits import Limits, RateLimiter
from harness.clock import Clock

if TYPE_CHECKING:
    from harness.botapi.webhook import Webhook

log = logging.getLogger("chatstorm.botapi")
# What Telegram sends when allowed_updates was never set: every kind but these.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
KEEP_CLOSED_CHATS_S = 600.0
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running"
)


@dataclass(slots=True)
class Update:
    update_id: int
    kind: str
    body: bytes  # the whole update as JSON, serialized once
    chat: Chat
    fetched: bool = False  # handed to the bot once (a poll's answer, a webhook's 2xx)

    def hand_over(self) -> None:
        """The bot has the update: its chat's user message is no longer unseen."""
        if not self.fetched:
            self.fetched = True
            self.chat.unfetched -= 1


class Bot:
    def __init__(self, bot_id: int, secret: str, ids: IdStore, limits: Limits | None) -> None:
        self.id = bot_id
        self.secret = secret  # the token's second half: only its holder is this bot
        self.username = f"chatstorm_{bot_id}_bot"
        self.user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "chatstorm bot",
            "username": self.username,
        }
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, Chat] = {}  # a simulated user's id -> the chat they write in
        self.commands: list = []  # setMyCommands
        self.pending: deque[Update] = deque()
        self.allowed_updates: frozenset[str] | None = None
        self.poll: asyncio.Future | None = None
        self.webhook: Webhook | None = None
        self.limiter = RateLimiter(limits) if limits is not None else None
        self.counts: Counter[str] = Counter()  # calls, updates, errors by category
        self.listened = False  # it called getUpdates or set a webhook, at least once
        self._ids = ids
        self._updates_key = f"updates:{bot_id}"
        self._warned: set[tuple[str, str]] = set()
        self._closed: deque[tuple[float, int]] = deque()  # (forget at, chat id)

    # -- updates -------------------------------------------------------------------------

    def add_user_message(self, chat: Chat, text: str) -> dict:
        message = chat.add_message(chat.user, text, command_entities(text))
        update_id = self._ids.next(self._updates_key)
        body = orjson.dumps({"update_id": update_id, "message": message})
        self.pending.append(Update(update_id, "message", body, chat))
        chat.unfetched += 1
        self.counts["updates"] += 1
        self.wake()
        return message

    @property
    def polling(self) -> bool:
        """A getUpdates is held open now."""
        return self.poll is not None and not self.poll.done()

    def end_poll(self) -> None:
        """Answer the held getUpdates now (with what there is)."""
        if self.polling:
            self.poll.set_result(None)

    def wake(self) -> None:
        """Updates are waiting: a held poll or the webhook takes them."""
        self.end_poll()
        if self.webhook is not None:
            self.webhook.wake()

    def allows(self, kind: str) -> bool:
        allowed = self.allowed_updates
        return kind not in OPT_IN_UPDATES if allowed is None else kind in allowed

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative one keeps the last ``-offset``."""
        pending = self.pending
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
            return
        while pending and pending[0].update_id < offset:
            pending.popleft()

    def take(self, limit: int) -> list[Update]:
        """Up to ``limit`` unconfirmed updates of the kinds the bot asked for."""
        taken = []
        for update in self.pending:
            if self.allows(update.kind):
                update.hand_over()
                taken.append(update)
                if len(taken) == limit:
                    break
        return taken

    async def get_updates(self, offset: int, limit: int, timeout: float) -> list[Update]:
        """Telegram's long poll: answer at once when updates wait, else hold the request
        until one comes or ``timeout`` passes. A newer poll ends this one with 409."""
        self.listened = True
        self.confirm(offset)
        if self.polling:
            self.poll.set_exception(ApiError(409, CONFLICT))
        updates = self.take(limit)
        if updates or timeout <= 0:
            return updates
        loop = asyncio.get_running_loop()
        poll = self.poll = loop.create_future()
        timer = loop.call_later(timeout, _expire, poll)
        try:
            await poll
        finally:
            timer.cancel()
            if self.poll is poll:
                self.poll = None
        return [] if self.webhook is not None else self.take(limit)

    # -- chats -------------------------------------------------------------------------------

    def open_chat(self, chat: Chat) -> None:
        self.chats[chat.id] = chat
        self.users[chat.user["id"]] = chat
        closed, now = self._closed, Clock.now()
        while closed and closed[0][0] < now:  # long over: forgotten, so memory stays flat
            forgotten = self.chats.pop(closed.popleft()[1], None)
            if forgotten is None:
                continue
            self.users.pop(forgotten.user["id"], None)
            if self.limiter is not None:
                self.limiter.forget(forgotten.id)

    def close_chat(self, chat: Chat) -> None:
        """The conversation is over. The chat stays a while for the bot's late replies,
        which no one is told of any more."""
        chat.owner = None
        self._closed.append((Clock.now() + KEEP_CLOSED_CHATS_S, chat.id))

    def chat(self, chat_id: int | str) -> Chat:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is not None:
            return chat
        if chat_id in self.users:  # a group member's own id, as if it were the group's
            raise ApiError(
                403, "Forbidden: bot can't initiate conversation with a user", category="forbidden"
            )
        raise bad_request("chat not found")

    def chat_named(self, chat_id: object) -> Chat | None:
        """The chat a call named, if it is one of the bot's, or the chat of the user it
        named: where the bot's mistake is reported."""
        try:
            key = int(chat_id)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return None
        return self.chats.get(key) or self.users.get(key)

    def check_limits(self, chat: Chat) -> None:
        if self.limiter is not None:
            self.limiter.check(chat.id, chat.is_group, Clock.now())

    # -- the bot's mistakes -----------------------------------------------------------------

    def note_error(self, error: ApiError, method: str, chat: Chat | None, t: float) -> None:
        """Count a call of the bot that failed; the chat's harness connection hears of it."""
        if error.category is not None:
            self.note(error.category, _generic(error, method), chat, t)

    def note(self, category: str, detail: str, chat: Chat | None, t: float) -> None:
        """Count a mistake of the bot; the chat's harness connection hears of it."""
        self.counts[f"error:{category}"] += 1
        if chat is not None:
            chat.emit("bot_error", category=category, detail=detail, t=t)
        key = (category, detail)
        if key not in self._warned:  # once per kind of mistake: a busy bot repeats them
            self._warned.add(key)
            log.warning("bot %d: %s (counted as %s)", self.id, detail, category)

    def stats(self) -> dict:
        return {
            "username": self.username,
            "chats": len(self.chats),
            "pending_updates": len(self.pending),
            "webhook": self.webhook is not None,
            "polling": self.polling,
            **dict(sorted(self.counts.items())),
        }


def _expire(poll: asyncio.Future) -> None:
    if not poll.done():
        poll.set_result(None)


def _generic(error: ApiError, method: str) -> str:
    """The error without its numbers, so that reports group alike mistakes together."""
    if error.code == 429:
        return f"{method}: 429 Too Many Requests"
    return f"{method}: {error.description}"
