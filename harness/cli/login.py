"""``harness login``: log a Telegram account in, interactively, and keep its session.

The session string it makes is a credential: it goes into an accounts file created with
mode 0600, or straight into the Redis pool, and is never printed. The phone is shown by
its last digits only; the login code and the two-step password are asked at the prompt
(the password hidden) and never written anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from telethon import TelegramClient, errors
from telethon.sessions import StringSession

from harness.cli.accounts import Prefix, RedisUrl, run_with_pool
from harness.coord import RedisAccounts, RedisLeases, append_session
from harness.coord.accounts import phone_tail

TEST_DC = "149.154.167.40:443"  # Telegram's test servers, DC 2
ATTEMPTS = 3  # wrong codes or passwords before giving up
CONNECT_RETRIES = 2  # an interactive command says soon that the server is unreachable


class LoginFailed(Exception):
    """Why the login cannot go on, in one line with what to do."""


@dataclass(frozen=True)
class LoggedIn:
    session: str
    phone: str


async def log_in(
    client: TelegramClient,
    phone: str,
    ask_code: Callable[[], str],
    ask_password: Callable[[], str],
    say: Callable[[str], None],
) -> LoggedIn:
    """Phone, code, then the two-step password if the account has one."""
    try:
        await client.connect()
    except OSError as exc:
        raise LoginFailed(f"cannot reach Telegram ({exc}); check the network or --server") from None
    try:
        sent = await client.send_code_request(phone)
        await _enter_code(client, phone, sent.phone_code_hash, ask_code, ask_password, say)
        me = await client.get_me()
        return LoggedIn(client.session.save(), f"+{me.phone}" if me.phone else phone)
    except errors.PhoneNumberInvalidError:
        raise LoginFailed(
            f"Telegram does not know the number {phone_tail(phone)}: give it in "
            "international format (+country code), or on test servers as 99966XYYYY"
        ) from None
    except errors.PhoneNumberBannedError:
        raise LoginFailed(f"the number {phone_tail(phone)} is banned by Telegram") from None
    except errors.FloodWaitError as exc:
        raise LoginFailed(
            f"Telegram asks to wait {exc.seconds} s before the next login attempt"
        ) from None
    except errors.PhoneCodeExpiredError:
        raise LoginFailed("the login code expired: run `harness login` again") from None
    finally:
        await client.disconnect()


async def _enter_code(
    client: TelegramClient,
    phone: str,
    code_hash: str,
    ask_code: Callable[[], str],
    ask_password: Callable[[], str],
    say: Callable[[str], None],
) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await client.sign_in(phone, ask_code(), phone_code_hash=code_hash)
            return
        except errors.PhoneCodeInvalidError:
            if attempt == ATTEMPTS:
                raise LoginFailed(f"{ATTEMPTS} wrong codes: run `harness login` again") from None
            say("That code is wrong; try again.")
        except errors.SessionPasswordNeededError:
            await _enter_password(client, ask_password, say)
            return


async def _enter_password(
    client: TelegramClient, ask_password: Callable[[], str], say: Callable[[str], None]
) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await client.sign_in(password=ask_password())
            return
        except errors.PasswordHashInvalidError:
            if attempt == ATTEMPTS:
                raise LoginFailed(
                    f"{ATTEMPTS} wrong two-step passwords: run `harness login` again"
                ) from None
            say("That password is wrong; try again.")


def _server(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"{address!r} is not HOST:PORT", param_hint="--server")
    return host, int(port)


def login(
    api_id: Annotated[int, typer.Option(envvar="TG_API_ID", help="From my.telegram.org.")],
    api_hash: Annotated[
        str, typer.Option(envvar="TG_API_HASH", help="From my.telegram.org.", show_default=False)
    ],
    phone: Annotated[
        str, typer.Option(help="The account's number, +country code (asked if omitted).")
    ] = "",
    out: Annotated[
        Path | None,
        typer.Option(help="Append the session to this accounts file (created with mode 0600)."),
    ] = None,
    pool: Annotated[bool, typer.Option(help="Add the account to the Redis pool.")] = False,
    label: Annotated[str, typer.Option(help="A name to recognise the account by.")] = "",
    test_dc: Annotated[
        bool, typer.Option(help=f"Log in on Telegram's test servers ({TEST_DC}, DC 2).")
    ] = False,
    server: Annotated[
        str, typer.Option(help="HOST:PORT of another Telegram endpoint (DC 2), e.g. a local one.")
    ] = "",
    redis_url: str = RedisUrl,
    prefix: str = Prefix,
) -> None:
    """Log an account in (phone, code, two-step password) and keep its session."""
    if out is None and not pool:
        typer.echo("harness: say where the session goes: --out FILE and/or --pool", err=True)
        raise typer.Exit(2)
    logging.getLogger("telethon").setLevel(logging.ERROR)  # its retries: one line below says
    phone = phone or typer.prompt("Phone number (+country code)")
    client = TelegramClient(StringSession(), api_id, api_hash, connection_retries=CONNECT_RETRIES)
    address = server or (TEST_DC if test_dc else "")
    if address:
        host, port = _server(address)
        client.session.set_dc(2, host, port)
    try:
        logged_in = asyncio.run(
            log_in(
                client,
                phone,
                ask_code=lambda: typer.prompt("Login code (sent to the Telegram app)"),
                ask_password=lambda: typer.prompt("Two-step password", hide_input=True),
                say=typer.echo,
            )
        )
    except LoginFailed as exc:
        typer.echo(f"harness: {exc}", err=True)
        raise typer.Exit(2) from None
    tail = phone_tail(logged_in.phone)
    if out is not None:
        if append_session(out, logged_in.session):
            typer.echo(f"{out} was readable by others: now 0600 (owner only)")
        typer.echo(f"logged in {tail}: session appended to {out}")
    if pool:

        async def add(accounts: RedisAccounts, _leases: RedisLeases):
            return await accounts.add(logged_in.session, logged_in.phone, label)

        info = run_with_pool(redis_url, prefix, add)
        typer.echo(f"logged in {tail}: added {info.account_id} to the pool")
