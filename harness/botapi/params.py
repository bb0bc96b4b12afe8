"""A Bot API call's parameters, however the bot sent them.

Frameworks send query strings (GET), form-encoded or multipart bodies with nested values
as JSON strings, or a JSON body. ``read_params`` flattens all of them into one dict;
``Params`` reads typed values from it the way Telegram does (``"5"`` and ``5`` are both
an integer; ``'{"message_id": 3}'`` and ``{"message_id": 3}`` both an object).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from harness.botapi.errors import ApiError, bad_request


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        try:
            if content_type == "application/json":
                values.update(_json_object(await request.read()))
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                values.update((k, v) for k, v in form.items() if isinstance(v, str))
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        except (ValueError, AssertionError, UnicodeDecodeError, web.HTTPBadRequest):
            # aiohttp's multipart reader says "broken" in all of these ways
            raise bad_request("can't parse the request body") from None
    return Params(values)


def _json_object(raw: bytes) -> dict:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("can't parse JSON request body") from None
    if not isinstance(body, dict):
        raise bad_request("the JSON request body must be an object")
    return body


class Params:
    __slots__ = ("values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def int(self, name: str, default: int | None = None) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            if default is None:
                raise bad_request(f"parameter {name} is required")
            return default
        return to_int(value, name)

    def flag(self, name: str) -> bool:
        """A boolean, however it was written (``true``, ``"true"``, ``1``)."""
        return self.values.get(name) in (True, 1, "true", "True", "1")

    def chat_id(self) -> int | str:
        """``chat_id``: a number, or an ``@channelusername`` (which the emulator never has)."""
        value = self.values.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            return value
        return self.int("chat_id")

    def str(self, name: str, default: str | None = None) -> str:
        value = self.values.get(name)
        if value is None:
            if default is None:
                raise bad_request(f"parameter {name} is required")
            return default
        return value if isinstance(value, str) else str(value)

    def json(self, name: str) -> Any:
        """An object or array parameter, given as JSON or (in a JSON body) as itself."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise bad_request(f"can't parse {name} JSON object") from None


def to_int(value: Any, name: str) -> int:
    """An integer however it was written (``5``, ``"5"``), or Telegram's 400."""
    if isinstance(value, bool):
        raise bad_request(f"parameter {name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"parameter {name} must be an integer") from None
