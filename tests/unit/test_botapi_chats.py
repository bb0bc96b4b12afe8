"""A chat of the Bot API emulator remembers a bounded number of messages."""

from __future__ import annotations

import pytest

from harness.botapi.chats import KEPT_MESSAGES, new_chat
from harness.botapi.errors import ApiError


class _Nobody:
    def push(self, event: dict) -> None:
        raise AssertionError("nothing is pushed when a message is only stored")


def test_a_flooded_chat_forgets_its_oldest_messages():
    chat = new_chat(1, "private", _Nobody(), "Ann", "en")
    for index in range(KEPT_MESSAGES + 5):
        chat.add_message(chat.user, f"m{index}")
    assert len(chat.messages) == KEPT_MESSAGES
    assert chat.last_message["text"] == f"m{KEPT_MESSAGES + 4}"
    assert chat.message(6, "gone")["text"] == "m5"  # the oldest kept
    with pytest.raises(ApiError, match="gone"):
        chat.message(5, "gone")
