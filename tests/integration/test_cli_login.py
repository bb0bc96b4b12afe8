"""``harness login`` against the local Telegram: the real key exchange, phone code and
two-step password (SRP) run by unmodified Telethon; the session it keeps must work, and
no secret may be shown."""

from __future__ import annotations

import asyncio
import stat

import pytest
from telethon import TelegramClient
from telethon.sessions import StringSession
from typer.testing import CliRunner

from harness.cli.main import app
from harness.coord import RedisAccounts, connect_redis, read_sessions_file
from harness.local_telegram.auth import trust_test_key
from harness.local_telegram.server import LocalTelegram
from tests.support.redis_support import REDIS_URL

API_HASH = "a1" * 16
PHONE = "+79991234567"


@pytest.fixture
async def telegram():
    trust_test_key()
    server = LocalTelegram()
    await server.start()
    yield server
    await server.stop()


async def login(telegram: LocalTelegram, *args: str, typed: list[str]):
    """Run ``harness login`` in a thread (it runs its own event loop), typing ``typed``."""
    command = ["login", "--api-id", "1", "--server", f"127.0.0.1:{telegram.port}", *args]
    return await asyncio.to_thread(
        CliRunner().invoke,
        app,
        command,
        input="".join(f"{line}\n" for line in typed),
        env={"TG_API_HASH": API_HASH, "REDIS_URL": REDIS_URL},
    )


async def whoami(telegram: LocalTelegram, session: str) -> str:
    """The phone of the account a session is logged in as, on the local Telegram."""
    client = TelegramClient(StringSession(session), 1, API_HASH)
    await client.connect()
    try:
        me = await client.get_me()
    finally:
        await client.disconnect()
    return f"+{me.phone}"


async def test_login_with_code_and_two_step_password_keeps_a_working_session(telegram, tmp_path):
    code = telegram.register(PHONE, password="correct horse")
    out = tmp_path / "sessions.txt"
    result = await login(
        telegram,
        "--phone",
        PHONE,
        "--out",
        str(out),
        typed=["00000", code, "wrong battery", "correct horse"],
    )
    assert result.exit_code == 0, result.output
    assert "That code is wrong" in result.output
    assert "That password is wrong" in result.output
    assert "logged in …4567: session appended to" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    ((_, session),) = read_sessions_file(out)
    assert await whoami(telegram, session) == PHONE
    for secret in (session, API_HASH, "correct horse", PHONE):
        assert secret not in result.output


async def test_login_appends_and_tightens_an_open_accounts_file(telegram, tmp_path):
    out = tmp_path / "sessions.txt"
    out.write_text("# team accounts\n")
    out.chmod(0o644)
    said = []
    for phone in ("+79990000001", "+79990000002"):
        code = telegram.register(phone)
        result = await login(telegram, "--phone", phone, "--out", str(out), typed=[code])
        assert result.exit_code == 0, result.output
        said.append("was readable by others: now 0600" in result.output)
    assert said == [True, False]  # told once, when it was tightened
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sessions = [session for _, session in read_sessions_file(out)]
    assert [await whoami(telegram, s) for s in sessions] == ["+79990000001", "+79990000002"]


async def test_login_straight_into_the_pool(telegram, redis_prefix):
    code = telegram.register(PHONE)
    result = await login(
        telegram,
        "--phone",
        PHONE,
        "--pool",
        "--label",
        "olga",
        "--prefix",
        redis_prefix,
        typed=[code],
    )
    assert result.exit_code == 0, result.output
    client = await connect_redis(REDIS_URL)
    try:
        accounts = RedisAccounts(client, redis_prefix)
        (info,) = await accounts.list()
        session = await accounts.session_of(info.account_id)
    finally:
        await client.aclose()
    assert (info.phone_tail, info.label) == ("…4567", "olga")
    assert f"added {info.account_id} to the pool" in result.output
    assert await whoami(telegram, session) == PHONE


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (["1", "2", "3"], "3 wrong codes: run `harness login` again"),
        ([], "Telegram does not know the number …0000"),
    ],
)
async def test_a_failed_login_is_one_line_and_writes_nothing(telegram, tmp_path, typed, message):
    telegram.register(PHONE)
    phone = PHONE if typed else "+70000000000"
    out = tmp_path / "sessions.txt"
    result = await login(telegram, "--phone", phone, "--out", str(out), typed=typed)
    assert result.exit_code == 2
    assert f"harness: {message}" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


async def test_an_unreachable_server_is_one_line(tmp_path):
    out = tmp_path / "sessions.txt"
    command = ["login", "--api-id", "1", "--server", "127.0.0.1:9", "--phone", PHONE]
    result = await asyncio.to_thread(
        CliRunner().invoke, app, [*command, "--out", str(out)], env={"TG_API_HASH": API_HASH}
    )
    assert result.exit_code == 2
    assert result.output.startswith("harness: cannot reach Telegram")
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
