"""The Bot API emulator under fuzzed requests: bad tokens, unknown methods, wrong types,
missing parameters, oversized bodies, broken JSON and multipart, texts over 4,096
characters, unsupported parse modes, chat ids of other bots. Every answer is an error as
Telegram words it (``{"ok": false, "error_code": 400, "description": "Bad Request: ..."}``),
never a 500, and the emulator goes on answering. Seeded: the same requests every run."""

from __future__ import annotations

import json
import random
from collections import Counter

import aiohttp
import orjson
from aiohttp import web

from harness.botapi.server import Emulator

METHODS = [
    "getMe", "getUpdates", "sendMessage", "sendChatAction", "editMessageText",
    "deleteWebhook", "setWebhook", "getWebhookInfo", "answerCallbackQuery", "sendPhoto",
    "forwardMessage", "nosuchmethod", "", "getme", "SENDMESSAGE", "x" * 300,
]  # fmt: skip
VALUES = [
    None, True, False, 0, -1, 1, 2**63, -(2**70), 1.5, float("inf"), "", " ", "0", "abc",
    "@channel", "x" * 5000, "😀" * 2049, "\x00", [], [1, 2], {}, {"a": 1}, "null",
]  # fmt: skip
PARAMS = [
    "chat_id", "text", "parse_mode", "offset", "limit", "timeout", "message_id",
    "reply_markup", "reply_parameters", "action", "url", "allowed_updates", "entities",
    "disable_notification", "unknown",
]  # fmt: skip
REQUESTS = 600


def _fuzzed(rng: random.Random, token: str, other_chat: int) -> dict:
    """One request's method, token, content type and body."""
    params = {rng.choice(PARAMS): rng.choice(VALUES) for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.2:
        params["chat_id"] = other_chat  # a chat of another bot
    if rng.random() < 0.1:
        params["parse_mode"] = rng.choice(["Markdown", "HTML", "MarkdownV2", "Klingon", 5])
    tokens = [token, "", "nope", "123:", ":abc", "1:" + "x" * 500, token + "x", "0:0"]
    kind = rng.choice(["json", "form", "multipart", "broken_json", "broken_multipart", "big"])
    body: bytes
    if kind == "json":
        body, content_type = json.dumps(params).encode(), "application/json"  # inf, 2**70 too
    elif kind == "form":
        body = "&".join(f"{k}={v}" for k, v in params.items()).encode()
        content_type = "application/x-www-form-urlencoded"
    elif kind == "multipart":
        parts = [
            f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in params.items()
        ]
        body, content_type = (
            ("".join(parts) + "--b--\r\n").encode(),
            "multipart/form-data; boundary=b",
        )
    elif kind == "broken_json":
        body, content_type = b'{"chat_id": 1, "text": ', "application/json"
    elif kind == "broken_multipart":
        body = b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhalf a part'
        content_type = rng.choice(["multipart/form-data; boundary=b", "multipart/form-data"])
    else:
        body, content_type = b"x" * (3 * 1024 * 1024), "application/json"
    return {
        "method": rng.choice(METHODS),
        "token": rng.choice(tokens),
        "body": body,
        "content_type": content_type,
        "verb": rng.choice(["POST", "POST", "GET"]),
    }


async def test_no_request_gets_a_500_and_the_emulator_stays_up(caplog):
    emulator = Emulator(None)
    runner = web.AppRunner(emulator.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    token, other = "5151:fuzz-token", "5252:other-bot"
    rng = random.Random(1234)
    statuses: Counter[int] = Counter()
    try:
        async with aiohttp.ClientSession(base) as http:
            async with http.post(f"/bot{other}/getMe") as response:
                assert response.status == 200
            for _ in range(REQUESTS):
                request = _fuzzed(rng, token, other_chat=5252)
                url = f"/bot{request['token']}/{request['method']}"
                headers = {"Content-Type": request["content_type"]}
                data = request["body"] if request["verb"] == "POST" else None
                async with http.request(request["verb"], url, data=data, headers=headers) as r:
                    raw = await r.read()
                statuses[r.status] += 1
                assert r.status < 500, (request["method"], request["content_type"], raw[:300])
                assert r.content_type == "application/json", (r.status, url[:60], raw[:200])
                answer = orjson.loads(raw)
                if not answer["ok"]:
                    assert answer["error_code"] == r.status
                    assert isinstance(answer["description"], str) and answer["description"]
            async with http.post(f"/bot{token}/getMe") as response:  # still answering
                assert response.status == 200 and (await response.json())["ok"]
    finally:
        await runner.cleanup()
    assert statuses[400] > 0 and statuses[401] > 0 and statuses[404] > 0
    assert statuses[413] > 0  # the oversized bodies, refused as Telegram does
    assert "Traceback" not in caplog.text
