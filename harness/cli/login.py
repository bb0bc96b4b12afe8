"""``harness login``: log a Telegram account in, interactively, and keep its session.

The session string it makes is a credential: it goes into an accounts file created with
mode 0600, or straight into the Redis pool, and is never printed. The phone is shown by
its last digits only; the login code and the two-step password are asked at the prompt
(the password hidden) and never written anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from harness.cli.accounts import Prefix, RedisUrl, run_with_pool
from harness.options import host_port, output_file, telegram_api_id

if TYPE_CHECKING:
    from harness.coord import RedisAccounts, RedisLeases

TEST_DC = "149.154.167.40:443"  # Telegram's test servers, DC 2
CONNECT_RETRIES = 2  # an interactive command says soon that the server is unreachable


def login(
    api_id: Annotated[
        int,
        typer.Option(envvar="TG_API_ID", parser=telegram_api_id, help="From my.telegram.org."),
    ],
    api_hash: Annotated[
        str, typer.Option(envvar="TG_API_HASH", help="From my.telegram.org.", show_default=False)
    ],
    phone: Annotated[
        str, typer.Option(help="The account's number, +country code (asked if omitted).")
    ] = "",
    out: Annotated[
        str | None,
        typer.Option(
            parser=output_file,
            help="Append the session to this accounts file (created with mode 0600).",
        ),
    ] = None,
    pool: Annotated[bool, typer.Option(help="Add the account to the Redis pool.")] = False,
    label: Annotated[str, typer.Option(help="A name to recognise the account by.")] = "",
    test_dc: Annotated[
        bool, typer.Option(help=f"Log in on Telegram's test servers ({TEST_DC}, DC 2).")
    ] = False,
    server: Annotated[
        str,
        typer.Option(
            parser=host_port,
            help="HOST:PORT of another Telegram endpoint (DC 2), e.g. a local one.",
        ),
    ] = "",
    redis_url: str = RedisUrl,
    prefix: str = Prefix,
) -> None:
    """Log an account in (phone, code, two-step password) and keep its session."""
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    from harness.cli.telegram_login import LoginFailed, log_in
    from harness.coord import append_session
    from harness.coord.accounts import phone_tail

    if out is None and not pool:
        typer.echo("harness: say where the session goes: --out FILE and/or --pool", err=True)
        raise typer.Exit(2)
    logging.getLogger("telethon").setLevel(logging.ERROR)  # its retries: one line below says
    phone = phone or typer.prompt("Phone number (+country code)")
    client = TelegramClient(StringSession(), api_id, api_hash, connection_retries=CONNECT_RETRIES)
    address = server or (TEST_DC if test_dc else "")
    if address:
        host, _, port = address.rpartition(":")
        client.session.set_dc(2, host, int(port))
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
        if append_session(Path(out), logged_in.session):
            typer.echo(f"{out} was readable by others: now 0600 (owner only)")
        typer.echo(f"logged in {tail}: session appended to {out}")
    if pool:

        async def add(accounts: RedisAccounts, _leases: RedisLeases):
            return await accounts.add(logged_in.session, logged_in.phone, label)

        info = run_with_pool(redis_url, prefix, add)
        typer.echo(f"logged in {tail}: added {info.account_id} to the pool")
