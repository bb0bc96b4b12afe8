"""The Bot API methods the emulator answers, by lower-case name (Telegram's method names
are case-insensitive). Each takes the call and returns the ``result`` of a successful
answer, or raises ``ApiError``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from harness.botapi.bots import Bot
from harness.botapi.chats import MAX_TEXT
from harness.botapi.errors import ApiError, bad_request
from harness.botapi.params import Params, to_int
from harness.botapi.webhook import Webhooks

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MAX_POLL_TIMEOUT_S = 50  # what Telegram holds a long poll for at most


@dataclass(slots=True)
class Call:
    bot: Bot
    params: Params
    t: float  # when the call reached the emulator (monotonic seconds)
    webhooks: Webhooks


Method = Callable[[Call], Awaitable[Any]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(function: Method) -> Method:
        METHODS[name.lower()] = function
        return function

    return register


@method("getMe")
async def get_me(call: Call) -> dict:
    return {
        **call.bot.user,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut")
@method("close")
async def log_out(call: Call) -> bool:
    return True


@method("getUpdates")
async def get_updates(call: Call) -> list:
    bot, params = call.bot, call.params
    if bot.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use "
            "deleteWebhook to delete the webhook first",
        )
    if params.has("allowed_updates"):
        bot.allowed_updates = _allowed_updates(params)
    limit = min(max(params.int("limit", 100), 1), 100)
    timeout = min(max(params.int("timeout", 0), 0), MAX_POLL_TIMEOUT_S)
    updates = await bot.get_updates(params.int("offset", 0), limit, timeout)
    return [orjson.Fragment(update.body) for update in updates]  # serialized once, at inject


@method("setWebhook")
async def set_webhook(call: Call) -> bool:
    params = call.params
    url = params.str("url", "")
    if params.has("allowed_updates"):
        call.bot.allowed_updates = _allowed_updates(params)
    if params.flag("drop_pending_updates"):
        call.bot.pending.clear()
    if not url:
        await call.webhooks.remove(call.bot)
        return True
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: an HTTP URL must be provided for webhook")
    secret = params.str("secret_token", "")
    if len(secret) > 256 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = min(max(params.int("max_connections", 40), 1), 100)
    await call.webhooks.set(call.bot, url, secret, max_connections)
    call.bot.listened = True
    return True


@method("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    if call.params.flag("drop_pending_updates"):
        call.bot.pending.clear()
    await call.webhooks.remove(call.bot)
    return True


@method("getWebhookInfo")
async def get_webhook_info(call: Call) -> dict:
    webhook = call.bot.webhook
    if webhook is None:
        pending = len(call.bot.pending)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
    return webhook.info()


@method("sendMessage")
async def send_message(call: Call) -> dict:
    bot, params = call.bot, call.params
    chat = bot.chat(params.chat_id())
    text = params.str("text")
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    reply_to = None
    reply = params.json("reply_parameters") or {}
    if not isinstance(reply, dict):
        raise bad_request("reply_parameters must be an object")
    reply_id = reply.get("message_id") or params.values.get("reply_to_message_id")
    if reply_id:
        reply_to = chat.messages.get(to_int(reply_id, "reply_parameters.message_id"))
        allowed = reply.get("allow_sending_without_reply") or params.flag(
            "allow_sending_without_reply"
        )
        if reply_to is None and not allowed:
            raise bad_request("message to be replied not found")
    bot.check_limits(chat)
    previous = chat.last_message
    message = chat.add_message(bot.user, text, params.json("entities"), reply_to)
    bot.counts["messages"] += 1
    chat.emit("message", message_id=message["message_id"], text=text, t=call.t)
    if previous is not None and previous["from"] is bot.user and previous.get("text") == text:
        bot.note("duplicate_answer", "sendMessage: the same text twice in a row", chat, call.t)
    return message


@method("editMessageText")
async def edit_message_text(call: Call) -> dict:
    bot, params = call.bot, call.params
    if params.has("inline_message_id"):
        raise bad_request("inline messages are not emulated")
    chat = bot.chat(params.chat_id())
    message = chat.message(params.int("message_id"), "message to edit not found")
    if message["from"] is not bot.user:
        raise bad_request("message can't be edited")
    text = params.str("text")
    if not text.strip():
        raise bad_request("message text is empty")
    if text == message["text"]:
        raise bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    bot.check_limits(chat)
    message["text"] = text
    message["edit_date"] = int(time.time())
    entities = params.json("entities")
    if entities:
        message["entities"] = entities
    else:
        message.pop("entities", None)
    bot.counts["edits"] += 1
    chat.emit("edit", message_id=message["message_id"], text=text, t=call.t)
    return message


@method("deleteMessage")
async def delete_message(call: Call) -> bool:
    bot, params = call.bot, call.params
    chat = bot.chat(params.chat_id())
    message_id = params.int("message_id")
    chat.message(message_id, "message to delete not found")
    del chat.messages[message_id]
    chat.emit("delete", message_id=message_id, t=call.t)
    return True


@method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    bot, params = call.bot, call.params
    chat = bot.chat(params.chat_id())
    action = params.str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    bot.counts["chat_actions"] += 1
    chat.emit("action", action=action, t=call.t)
    return True


@method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    call.params.str("callback_query_id")
    return True


@method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    commands = call.params.json("commands")
    if not isinstance(commands, list):
        raise bad_request("parameter commands must be an array")
    call.bot.commands = commands
    return True


@method("getMyCommands")
async def get_my_commands(call: Call) -> list:
    return call.bot.commands


@method("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    call.bot.commands = []
    return True


def _allowed_updates(params: Params) -> frozenset[str] | None:
    kinds = params.json("allowed_updates")
    if not isinstance(kinds, list):
        raise bad_request("allowed_updates must be an array of update kinds")
    return frozenset(kinds) or None  # an empty list means the default, as on Telegram
