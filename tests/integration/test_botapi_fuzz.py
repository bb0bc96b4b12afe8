"""The Bot API emulator under fuzzed requests: bad tokens, unknown methods, wrong types,
missing parameters, oversized bodies, broken JSON and multipart, texts over 4,096
characters, unsupported parse modes, chat ids of other bots. Every answer is an error as
Telegram words it (``{"ok": false, "error_code": 400, "description": "Bad Request: ..."}``),
never a 500, and the emulator goes on answering. Seeded: the same requests every run."""

from __future__ import annotations

import asyncio
import json
import random
import stat
from collections import Counter

import aiohttp
import orjson
import pytest
from aiohttp import web

from harness.botapi import harness_link
from harness.botapi.ids import USERS, IdStore
from harness.botapi.protocol import LINK_TOKEN_HEADER, PATH, STATS_PATH, TOKEN_HEADER
from harness.botapi.server import Emulator
from harness.transport.botapi_transport import BotApiTransport

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


GARBAGE = [
    b"\x00\xff\xfe garbage",
    b"[]",
    b"42",
    b'"ping"',
    b"null",
    b'{"op": 5}',
    b'{"op": "send"}',
    b'{"op": "send", "chat_id": [1], "text": "x"}',
    b'{"op": "send", "chat_id": 1, "text": {"a": 1}}',
    b'{"op": "open", "type": "channel-of-doom"}',
    b'{"op": "close"}',
    b'{"op": "open", "first_name": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    b'{"op": "nothing", "req": {"deep": [1, 2, 3]}}',
]


async def _link(http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(PATH, headers={TOKEN_HEADER: "6161:link-fuzz"})


async def _events(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    found: list[dict] = []
    async with asyncio.timeout(10):
        while len(found) < count:
            frame = await ws.receive()
            assert frame.type == aiohttp.WSMsgType.BINARY, frame
            found.extend(orjson.loads(frame.data))
    return found


async def test_the_harness_link_answers_garbage_with_errors_and_lives_on():
    emulator = Emulator(None)
    port = await emulator.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            ws = await _link(http)
            for frame in GARBAGE:
                await ws.send_bytes(frame)
            errors = await _events(ws, len(GARBAGE))
            assert [e["op"] for e in errors] == ["error"] * len(GARBAGE)
            await ws.send_bytes(orjson.dumps({"op": "ping", "req": 1}))
            assert (await _events(ws, 1))[0]["op"] == "pong"
            await ws.send_bytes(b"x" * (2 << 20))  # over the frame limit: that link ends
            async with asyncio.timeout(10):
                while (await ws.receive()).type not in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    pass
            again = await _link(http)  # the emulator itself lives on
            await again.send_bytes(orjson.dumps({"op": "ping", "req": 2}))
            assert (await _events(again, 1))[0]["op"] == "pong"
            await again.close()
    finally:
        await emulator.stop()


async def test_a_harness_that_never_reads_is_cut_off_not_buffered_forever(monkeypatch):
    monkeypatch.setattr(harness_link, "MAX_PENDING", 500)
    emulator = Emulator(None)
    port = await emulator.start("127.0.0.1", 0)
    token = "6262:never-reads"
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            ws = await http.ws_connect(PATH, headers={TOKEN_HEADER: token})
            await ws.send_bytes(orjson.dumps({"op": "open", "req": 1}))
            opened = (await _events(ws, 1))[0]
            text = "y" * 4000
            for _ in range(3000):  # 12 MB the harness never reads
                async with http.post(
                    f"/bot{token}/sendMessage", json={"chat_id": opened["chat_id"], "text": text}
                ) as response:
                    assert response.status == 200
                if not emulator._links:
                    break
            assert not emulator._links  # cut off, its pushes dropped with it
            async with http.post(f"/bot{token}/getMe") as response:
                assert response.status == 200
    finally:
        await emulator.stop()


async def test_beyond_this_machine_the_harness_link_needs_its_token():
    with pytest.raises(ValueError, match="--link-token"):
        await Emulator(None).start("0.0.0.0", 0)
    emulator = Emulator(None, link_token="link-secret")
    port = await emulator.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for headers in ({}, {LINK_TOKEN_HEADER: "guess"}):
                async with http.get(PATH, headers={TOKEN_HEADER: "7171:x", **headers}) as r:
                    assert r.status == 401 and not (await r.json())["ok"]
                async with http.get(STATS_PATH, headers=headers) as r:
                    assert r.status == 401
        transport = BotApiTransport(f"http://127.0.0.1:{port}", "7171:x", link_token="link-secret")
        await transport.connect()
        await transport.close()
    finally:
        await emulator.stop()


def test_the_emulators_state_file_is_its_owners_alone(tmp_path):
    """Ids only, but a state file of the run: created 0600, like the accounts files."""
    state = tmp_path / "state.json"
    IdStore(state).next(USERS)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
