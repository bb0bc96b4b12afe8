"""Chats between simulated users and a bot, and the messages in them, shaped as Telegram
shapes them (a bot framework such as aiogram validates every field it receives)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.botapi.errors import bad_request

MAX_TEXT = 4096  # characters in one message, as on Telegram
KEPT_MESSAGES = 1000
"""Messages a chat remembers (for replies and edits): a bot that floods one chat must
not grow the emulator without bound. Older ones are "not found", as if deleted."""


class Link(Protocol):
    """A harness connection: where a chat's events go."""

    def push(self, event: dict) -> None: ...


@dataclass
class Chat:
    id: int
    type: str
    user: dict
    payload: dict
    owner: Link | None
    messages: dict[int, dict] = field(default_factory=dict)
    last_message_id: int = 0
    unfetched: int = 0
    """The user's messages the bot has not fetched yet (getUpdates, or its webhook)."""

    @property
    def is_group(self) -> bool:
        return self.type != "private"

    def emit(self, op: str, **fields: object) -> None:
        """Tell the harness connection that opened this chat (if it still listens)."""
        if self.owner is not None:
            self.owner.push({"op": op, "chat_id": self.id, **fields})

    def add_message(
        self,
        sender: dict,
        text: str,
        entities: list | None = None,
        reply_to: dict | None = None,
    ) -> dict:
        self.last_message_id += 1
        message: dict[str, Any] = {
            "message_id": self.last_message_id,
            "from": sender,
            "chat": self.payload,
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if reply_to is not None:  # one level deep, as on Telegram
            message["reply_to_message"] = {
                key: value for key, value in reply_to.items() if key != "reply_to_message"
            }
        messages = self.messages
        messages[self.last_message_id] = message
        if len(messages) > KEPT_MESSAGES:
            del messages[next(iter(messages))]
        return message

    @property
    def last_message(self) -> dict | None:
        return self.messages.get(self.last_message_id)

    def message(self, message_id: int, missing: str) -> dict:
        message = self.messages.get(message_id)
        if message is None:
            raise bad_request(missing)
        return message


def new_chat(user_id: int, chat_type: str, owner: Link, first_name: str, language: str) -> Chat:
    """A simulated user and their chat with the bot: a private chat has the user's id; a
    group's id is negative, a supergroup's starts with -100, as on Telegram."""
    user = {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "username": f"user{user_id}",
        "language_code": language,
    }
    if chat_type == "private":
        chat_id = user_id
        payload = {
            "id": chat_id,
            "type": "private",
            "first_name": first_name,
            "username": user["username"],
        }
    else:
        chat_id = -user_id if chat_type == "group" else -(10**12 + user_id)
        payload = {"id": chat_id, "type": chat_type, "title": f"Group of {first_name}"}
    return Chat(chat_id, chat_type, user, payload, owner)


def command_entities(text: str) -> list[dict] | None:
    """The ``bot_command`` entity of a message that starts with ``/command``: frameworks
    (python-telegram-bot's CommandHandler) route on it, not on the text. Offsets and
    lengths count UTF-16 code units, as Telegram's do."""
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return None
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]
