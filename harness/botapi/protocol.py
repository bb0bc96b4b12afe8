"""The harness's side of the emulator: one WebSocket per harness process, per bot.

Many Locust workers, on other machines too, drive one emulator, so this is a network API.
The bot token goes in the ``X-Chatstorm-Bot-Token`` header of the handshake (never in a
URL, where access logs would keep it). The harness sends one JSON object per frame, with
an ``op``; a request carries ``req``, echoed in its answer. The emulator sends JSON arrays
of such objects: what piled up while the last frame was being written, in order.

Harness -> emulator:
  ``open``  ``{req, type: private|group|supergroup, first_name?, language_code?}``:
            the emulator allocates a new user and its chat (ids never repeat, across
            workers and restarts); answer ``opened {req, chat_id, user_id}``.
  ``send``  ``{req, chat_id, text}``: the user writes in their chat; the update is
            queued for the bot; answer ``sent {req, message_id, t}``.
  ``close`` ``{chat_id}``: the conversation is over; nothing more is pushed for the chat.
  ``ping``  ``{req, chat_id?}``: answer ``pong {req, t}`` (clock sync, and a barrier:
            every push sent before the pong has arrived before it). With a ``chat_id``
            of this connection the pong also says how many of the user's messages the
            bot has not fetched yet (``unfetched``) and whether it ever asked for
            updates (``listened``: a getUpdates, or a webhook set).

Emulator -> harness, pushed for the chats a connection opened:
  ``message {chat_id, message_id, text, t}``, ``edit {chat_id, message_id, text, t}``,
  ``action {chat_id, action, t}`` (sendChatAction), ``delete {chat_id, message_id, t}``,
  ``bot_error {chat_id, category, detail, t}`` (what the bot did wrong in the chat: 429s,
            unknown methods, bad requests, an answer sent twice),
  ``error {req?, description}`` (the harness asked for something impossible).

``t`` is the emulator's monotonic clock when the call reached it, in seconds.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"(\d{1,19}):([A-Za-z0-9_-]{1,128})")  # <bot id>:<secret>, as BotFather gives
PATH = "/harness/v1/ws"
STATS_PATH = "/harness/v1/stats"
TOKEN_HEADER = "X-Chatstorm-Bot-Token"
LINK_TOKEN_HEADER = "X-Chatstorm-Link-Token"
"""The harness link's own secret, required when the emulator listens beyond this machine:
without it anyone who reaches the port could open chats and write as a user."""
CHAT_TYPES = ("private", "group", "supergroup")
