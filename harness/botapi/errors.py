"""Bot API errors, shaped as Telegram answers them."""

from __future__ import annotations

import orjson


class ApiError(Exception):
    """A failed call: ``{"ok": false, "error_code", "description", "parameters"?}``.

    ``category`` names the bot's mistake in the harness's report (None: not the bot's
    doing, or not worth counting)."""

    def __init__(
        self,
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        category: str | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.category = category

    def body(self) -> bytes:
        payload: dict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return orjson.dumps(payload)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}", category="bad_request")


def not_implemented(method: str) -> ApiError:
    return ApiError(
        404,
        f"Not Found: method {method} is not implemented by the chatstorm Bot API emulator",
        category="unknown_method",
    )


UNAUTHORIZED = ApiError(401, "Unauthorized")
