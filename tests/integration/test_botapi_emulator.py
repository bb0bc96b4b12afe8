"""The Bot API emulator at the protocol level: a plain HTTP client plays the bot, the
harness's WebSocket plays the users. What real frameworks rely on must hold: long polls
held open, offsets, 409 for a second poller, update ids that survive a restart, errors
shaped as Telegram's, limits, webhooks with their secret."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from harness.botapi.limits import Limits
from harness.botapi.protocol import PATH, TOKEN_HEADER
from harness.botapi.server import Emulator
from tests.support.botapi import TOKEN, call


class Harness:
    """The harness's side, spoken by hand: requests and what the emulator pushes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self._serial = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            for event in orjson.loads(frame.data):
                await self.events.put(event)

    async def request(self, op: str, **fields) -> dict:
        self._serial += 1
        await self.ws.send_bytes(orjson.dumps({"op": op, "req": self._serial, **fields}))
        return await self.next(lambda e: e.get("req") == self._serial)

    async def next(self, wanted=lambda event: True, timeout: float = 5) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if wanted(event):
                    return event


@asynccontextmanager
async def running(state: Path | None = None, limits: Limits | None = None):
    emulator = Emulator(state, limits)
    port = await emulator.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            ws = await http.ws_connect(PATH, headers={TOKEN_HEADER: TOKEN})
            harness = Harness(ws)
            try:
                yield emulator, http, harness
            finally:
                harness._reader.cancel()
                await ws.close()
    finally:
        await emulator.stop()


async def test_get_me_and_the_body_encodings_frameworks_use(tmp_path):
    async with running() as (_emulator, http, harness):
        status, body = await call(http, "getMe")
        assert status == 200 and body["ok"] is True
        assert body["result"]["id"] == 4242 and body["result"]["is_bot"] is True
        assert body["result"]["username"].endswith("bot")
        chat = await harness.request("open", type="private", first_name="Olga")
        # JSON body, multipart body and query string all carry the same parameters.
        async with http.post(
            f"/bot{TOKEN}/sendMessage", json={"chat_id": chat["chat_id"], "text": "json"}
        ) as response:
            assert (await response.json())["result"]["text"] == "json"
        form = aiohttp.FormData({"chat_id": str(chat["chat_id"]), "text": "multipart"})
        form.add_field("entities", "[]", content_type="text/plain")
        form.add_field("file", b"x", filename="x.bin")  # forces multipart/form-data
        async with http.post(f"/bot{TOKEN}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "multipart"
        async with http.get(
            f"/bot{TOKEN}/sendmessage", params={"chat_id": chat["chat_id"], "text": "query"}
        ) as response:  # method names are case-insensitive, as on Telegram
            assert (await response.json())["result"]["text"] == "query"
        texts = [(await harness.next(lambda e: e["op"] == "message"))["text"] for _ in range(3)]
        assert texts == ["json", "multipart", "query"]


async def test_errors_are_shaped_as_telegrams():
    async with running() as (_emulator, http, harness):
        status, body = await call(http, "getMe", token="not-a-token")
        assert (status, body) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        status, body = await call(http, "getMe", token="4242:another-secret")  # revoked
        assert status == 401
        chat = await harness.request("open")
        status, body = await call(http, "sendPhoto", chat_id=chat["chat_id"], photo="x")
        assert status == 404 and body["error_code"] == 404
        assert "sendPhoto is not implemented" in body["description"]
        status, body = await call(http, "sendMessage", chat_id=999, text="hi")
        assert (status, body["description"]) == (400, "Bad Request: chat not found")
        status, body = await call(http, "sendMessage", chat_id=chat["chat_id"], text=" ")
        assert body["description"] == "Bad Request: message text is empty"
        # The bot's mistakes in a chat reach that chat's harness connection, counted.
        error = await harness.next(lambda e: e["op"] == "bot_error")
        assert error["category"] == "unknown_method" and "sendPhoto" in error["detail"]
        error = await harness.next(lambda e: e["op"] == "bot_error")
        assert error["category"] == "bad_request"


async def test_a_long_poll_is_held_until_an_update_comes():
    async with running() as (_emulator, http, harness):
        chat = await harness.request("open")
        started = time.monotonic()
        poll = asyncio.create_task(call(http, "getUpdates", timeout=5))
        await asyncio.sleep(0.3)
        assert not poll.done()  # held, not answered empty at once
        sent = await harness.request("send", chat_id=chat["chat_id"], text="/start now")
        status, body = await asyncio.wait_for(poll, 2)
        assert status == 200 and time.monotonic() - started < 2
        (update,) = body["result"]
        message = update["message"]
        assert message["message_id"] == sent["message_id"] and message["text"] == "/start now"
        assert message["chat"] == {
            "id": chat["chat_id"],
            "type": "private",
            "first_name": "User",
            "username": f"user{chat['user_id']}",
        }
        assert message["from"]["id"] == chat["user_id"] and isinstance(message["date"], int)
        assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        # An empty poll with a short timeout comes back empty after that timeout.
        started = time.monotonic()
        _, body = await call(http, "getUpdates", offset=update["update_id"] + 1, timeout=1)
        assert body["result"] == [] and 0.9 < time.monotonic() - started < 1.5


async def test_a_newer_poll_ends_the_older_one_with_409():
    async with running() as (_emulator, http, _harness):
        older = asyncio.create_task(call(http, "getUpdates", timeout=5))
        await asyncio.sleep(0.2)
        newer = asyncio.create_task(call(http, "getUpdates", timeout=1))
        status, body = await asyncio.wait_for(older, 2)
        assert status == 409 and body["description"].startswith("Conflict: terminated by other")
        assert (await newer)[0] == 200


async def test_offsets_confirm_and_limit_bounds_each_answer():
    async with running() as (_emulator, http, harness):
        chat = await harness.request("open")
        for n in range(5):
            await harness.request("send", chat_id=chat["chat_id"], text=f"m{n}")
        _, body = await call(http, "getUpdates", limit=2)
        first, second = body["result"]
        assert second["update_id"] == first["update_id"] + 1
        _, body = await call(http, "getUpdates", limit=2)  # nothing confirmed: the same two
        assert [u["update_id"] for u in body["result"]] == [first["update_id"], second["update_id"]]
        _, body = await call(http, "getUpdates", offset=second["update_id"] + 1)
        assert [u["message"]["text"] for u in body["result"]] == ["m2", "m3", "m4"]
        _, body = await call(http, "getUpdates", offset=-1)  # only the last one is kept
        assert [u["message"]["text"] for u in body["result"]] == ["m4"]


async def test_allowed_updates_are_remembered_between_polls():
    async with running() as (_emulator, http, harness):
        chat = await harness.request("open")
        await harness.request("send", chat_id=chat["chat_id"], text="hello")
        _, body = await call(http, "getUpdates", allowed_updates=["callback_query"])
        assert body["result"] == []
        _, body = await call(http, "getUpdates")  # not given: the last setting holds
        assert body["result"] == []
        _, body = await call(http, "getUpdates", allowed_updates=["message"])
        assert [u["message"]["text"] for u in body["result"]] == ["hello"]


async def test_update_ids_keep_growing_across_a_restart(tmp_path):
    state = tmp_path / "state.json"
    async with running(state) as (_emulator, http, harness):
        chat = await harness.request("open")
        await harness.request("send", chat_id=chat["chat_id"], text="before")
        _, body = await call(http, "getUpdates")
        before = body["result"][0]["update_id"]
    assert TOKEN.split(":")[1] not in state.read_text()  # the token's secret is never kept
    async with running(state) as (_emulator, http, harness):
        second = await harness.request("open")
        assert second["user_id"] > chat["user_id"]  # no user is ever reused
        await harness.request("send", chat_id=second["chat_id"], text="after")
        _, body = await call(http, "getUpdates", offset=before + 1)
        assert body["result"][0]["update_id"] > before


async def test_bot_messages_edits_actions_and_replies_reach_the_harness_stamped():
    async with running() as (_emulator, http, harness):
        chat = await harness.request("open", type="supergroup")
        assert str(chat["chat_id"]).startswith("-100")
        sent = await harness.request("send", chat_id=chat["chat_id"], text="question")
        assert (await call(http, "sendChatAction", chat_id=chat["chat_id"], action="typing"))[
            0
        ] == 200
        _, body = await call(
            http,
            "sendMessage",
            chat_id=chat["chat_id"],
            text="*answer*",
            parse_mode="MarkdownV2",
            reply_parameters={"message_id": sent["message_id"]},
        )
        reply = body["result"]
        assert reply["reply_to_message"]["text"] == "question"
        assert reply["from"]["is_bot"] and reply["chat"]["type"] == "supergroup"
        edit = {
            "chat_id": chat["chat_id"],
            "message_id": reply["message_id"],
            "text": "final answer",
        }
        _, body = await call(http, "editMessageText", **edit)
        assert body["result"]["text"] == "final answer" and "edit_date" in body["result"]
        status, body = await call(http, "editMessageText", **edit)  # the same text again
        assert status == 400 and "message is not modified" in body["description"]
        assert (
            await call(
                http, "deleteMessage", chat_id=chat["chat_id"], message_id=reply["message_id"]
            )
        )[1]["result"]
        ops = [await harness.next(lambda e: e["op"] != "bot_error") for _ in range(4)]
        assert [e["op"] for e in ops] == ["action", "message", "edit", "delete"]
        assert ops[0]["action"] == "typing" and ops[2]["text"] == "final answer"
        times = [sent["t"], *(e["t"] for e in ops)]
        assert times == sorted(times)  # the emulator's clock, in the order things happened


async def test_limits_answer_429_and_count_a_bot_that_ignores_retry_after():
    async with running(limits=Limits(chat_burst=2)) as (_emulator, http, harness):
        chat = await harness.request("open")
        codes = [
            (await call(http, "sendMessage", chat_id=chat["chat_id"], text=f"p{n}"))[1]
            for n in range(4)
        ]
        assert [c["ok"] for c in codes] == [True, True, False, False]
        assert codes[2]["error_code"] == 429 and codes[2]["parameters"]["retry_after"] == 1
        assert codes[2]["description"] == "Too Many Requests: retry after 1"
        errors = [await harness.next(lambda e: e["op"] == "bot_error") for _ in range(2)]
        assert [e["category"] for e in errors] == ["rate_limited", "retry_after_ignored"]
        other = await harness.request("open")  # another chat is not held back
        assert (await call(http, "sendMessage", chat_id=other["chat_id"], text="x"))[0] == 200


async def test_a_webhook_gets_updates_with_its_secret_and_may_answer_in_its_response():
    deliveries: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        deliveries.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "hooked"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with running() as (_emulator, http, harness):
            url = f"http://127.0.0.1:{port}/hook"
            assert (await call(http, "setWebhook", url=url, secret_token="s3cret"))[1]["result"]
            _, info = await call(http, "getWebhookInfo")
            assert info["result"]["url"] == url
            status, body = await call(http, "getUpdates")
            assert status == 409 and "webhook is active" in body["description"]
            chat = await harness.request("open")
            await harness.request("send", chat_id=chat["chat_id"], text="via hook")
            reply = await harness.next(lambda e: e["op"] == "message")
            assert reply["text"] == "hooked"
            ((secret, update),) = deliveries
            assert secret == "s3cret" and update["message"]["text"] == "via hook"
            assert (await call(http, "deleteWebhook"))[1]["result"] is True
            assert (await call(http, "getUpdates"))[0] == 200
    finally:
        await runner.cleanup()


def test_serve_on_a_busy_port_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = ["--state", str(tmp_path / "state.json")]
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", "botapi", "serve", "--port", str(port), *state],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stderr == (
        f"harness: the Bot API emulator cannot listen on 127.0.0.1:{port}: "
        "address already in use; choose another port\n"
    )


@pytest.mark.parametrize("host", ["10.254.254.254", "no-such-host.invalid"])
async def test_serve_on_an_address_not_of_this_machine_names_the_host_not_the_port(host):
    emulator = Emulator(None, link_token="t")
    with pytest.raises(OSError) as refused:
        await emulator.start(host, 0)
    assert str(refused.value).startswith(
        f"the Bot API emulator cannot listen on {host}: not an address of this machine ("
    )
    assert "choose another port" not in str(refused.value)


async def test_a_group_takes_twenty_messages_a_minute():
    limits = Limits(chat_burst=100, group_per_minute=20)
    async with running(limits=limits) as (_emulator, http, harness):
        group = await harness.request("open", type="group")
        answers = [
            (await call(http, "sendMessage", chat_id=group["chat_id"], text=f"g{n}"))[1]
            for n in range(21)
        ]
        assert all(a["ok"] for a in answers[:20])
        assert answers[20]["error_code"] == 429
        assert 1 <= answers[20]["parameters"]["retry_after"] <= 3  # a token every 3 s


async def test_a_finished_chat_takes_late_replies_until_it_is_forgotten(monkeypatch):
    monkeypatch.setattr("harness.botapi.bots.KEEP_CLOSED_CHATS_S", 0.0)
    async with running() as (_emulator, http, harness):
        old = await harness.request("open")
        await harness.ws.send_bytes(orjson.dumps({"op": "close", "chat_id": old["chat_id"]}))
        await harness.request("ping")  # the close is in
        late = await call(http, "sendMessage", chat_id=old["chat_id"], text="late")
        assert late[0] == 200  # a late reply is taken, and pushed to no one
        await harness.request("open")  # opening a chat forgets those long over
        gone = await call(http, "sendMessage", chat_id=old["chat_id"], text="later")
        assert gone[1]["description"] == "Bad Request: chat not found"
        ops = [
            e["op"] for e in [harness.events.get_nowait() for _ in range(harness.events.qsize())]
        ]
        assert "message" not in ops


async def test_a_frame_that_is_not_json_is_answered_with_an_error_and_the_link_lives_on():
    async with running() as (_emulator, _http, harness):
        await harness.ws.send_bytes(b"not json")  # the very first frame
        error = await harness.next(lambda e: e["op"] == "error")
        assert error["req"] is None and error["description"].startswith("bad request")
        assert (await harness.request("ping"))["op"] == "pong"


async def test_a_ping_for_a_chat_says_what_the_bot_has_not_fetched():
    """The harness's question at the end of each reply window: how many of the user's
    messages the bot never took, and whether it ever asked for updates."""
    async with running() as (_emulator, http, harness):
        chat = (await harness.request("open", type="private"))["chat_id"]
        for text in ("one", "two"):
            await harness.request("send", chat_id=chat, text=text)
        pong = await harness.request("ping", chat_id=chat)
        assert (pong["unfetched"], pong["listened"]) == (2, False)
        _, body = await call(http, "getUpdates", limit=1)  # one taken, not yet confirmed
        assert len(body["result"]) == 1
        pong = await harness.request("ping", chat_id=chat)
        assert (pong["unfetched"], pong["listened"]) == (1, True)
        await call(http, "getUpdates")
        assert (await harness.request("ping", chat_id=chat))["unfetched"] == 0
        refused = await harness.request("ping", chat_id=chat + 1)
        assert refused["op"] == "error" and "not open" in refused["description"]


async def test_the_bots_own_mistakes_in_a_chat_reach_its_harness():
    """Twice the same answer in a row; a group member's id used as the chat (Telegram's
    403); a user's message edited: each a bot_error pushed to the chat's harness."""
    async with running() as (_emulator, http, harness):
        group = await harness.request("open", type="group")
        chat = group["chat_id"]
        sent = await harness.request("send", chat_id=chat, text="hi")
        for _ in range(2):
            await call(http, "sendMessage", chat_id=chat, text="same")
        status, body = await call(http, "sendMessage", chat_id=group["user_id"], text="dm")
        assert (status, body["error_code"]) == (403, 403)
        assert body["description"] == "Forbidden: bot can't initiate conversation with a user"
        status, _ = await call(
            http, "editMessageText", chat_id=chat, message_id=sent["message_id"], text="x"
        )
        assert status == 400
        errors = []
        while len(errors) < 3:
            event = await harness.next(lambda e: e["op"] == "bot_error")
            errors.append((event["chat_id"], event["category"]))
        assert errors == [
            (chat, "duplicate_answer"),
            (chat, "forbidden"),
            (chat, "bad_request"),
        ]
