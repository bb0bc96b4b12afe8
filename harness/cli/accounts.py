"""``harness accounts``: the Telegram account pool in Redis.

Session strings are credentials: they are read from standard input or a file, never
from the command line (where shell history and ``ps`` would keep them), and never shown.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from harness.coord import DEFAULT_URL
from harness.options import label, redis_url

if TYPE_CHECKING:  # the commands load Redis's client when they run, not when they are listed
    from harness.coord import RedisAccounts, RedisLeases

accounts_app = typer.Typer(
    help="Manage the pool of Telegram accounts (kept in Redis).", no_args_is_help=True
)

SessionsFile = typer.Argument(
    ..., help="One StringSession per line; blank lines and # comments are skipped."
)
RedisUrl = typer.Option(
    DEFAULT_URL,
    "--redis-url",
    envvar="REDIS_URL",
    parser=redis_url,
    help="Where the pool lives.",
)
Prefix = typer.Option(
    "chatstorm", "--prefix", parser=label, help="Key prefix of this pool in Redis."
)


def run_with_pool(
    redis_url: str, prefix: str, work: Callable[[RedisAccounts, RedisLeases], Awaitable]
):
    """Run ``work`` against the pool; an unreachable Redis is one line and exit code 2."""
    from harness.coord import RedisAccounts, RedisLeases, RedisUnavailable, connect_redis

    async def main():
        client = await connect_redis(redis_url)
        try:
            accounts = RedisAccounts(client, prefix)
            return await work(accounts, RedisLeases(client, accounts, prefix))
        finally:
            await client.aclose()

    try:
        return asyncio.run(main())
    except RedisUnavailable as exc:
        typer.echo(f"harness: {exc}", err=True)
        raise typer.Exit(2) from None


@accounts_app.command("add")
def add(
    phone: str = typer.Option(
        "", help="The account's phone number (only its last digits are kept)."
    ),
    label: str = typer.Option("", help="A name to recognise the account by."),
    redis_url: str = RedisUrl,
    prefix: str = Prefix,
) -> None:
    """Add one account; its StringSession is read from standard input."""
    session = sys.stdin.readline()

    async def work(accounts: RedisAccounts, _leases: RedisLeases):
        return await accounts.add(session, phone or None, label)

    try:
        info = run_with_pool(redis_url, prefix, work)
    except ValueError as exc:
        typer.echo(f"harness: standard input: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"added {info.account_id} {info.phone_tail}".rstrip())


@accounts_app.command("import")
def import_(
    path: Path = SessionsFile,
    redis_url: str = RedisUrl,
    prefix: str = Prefix,
) -> None:
    """Add every session in a file."""
    from harness.coord import read_sessions_file

    try:
        sessions = read_sessions_file(path)
    except OSError as exc:
        typer.echo(f"harness: {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # not text
        typer.echo(f"harness: {exc}", err=True)
        raise typer.Exit(2) from None
    if not sessions:
        typer.echo(f"harness: {path} holds no session: write one StringSession per line", err=True)
        raise typer.Exit(2)

    async def work(accounts: RedisAccounts, _leases: RedisLeases):
        problems, added = [], 0
        for number, session in sessions:
            try:
                await accounts.add(session)
                added += 1
            except ValueError as exc:
                problems.append(f"{path}:{number}: {exc}")
        return added, problems

    added, problems = run_with_pool(redis_url, prefix, work)
    for problem in problems:
        typer.echo(problem, err=True)
    typer.echo(f"imported {added} account(s)")
    if problems:
        raise typer.Exit(2)


@accounts_app.command("list")
def list_(redis_url: str = RedisUrl, prefix: str = Prefix) -> None:
    """Show the pool: id, phone tail, state, lease holder, flood history (never sessions)."""

    async def work(accounts: RedisAccounts, leases: RedisLeases):
        infos = await accounts.list()
        return [(info, await leases.holder_of(info.account_id)) for info in infos]

    rows = run_with_pool(redis_url, prefix, work)
    table = Table(title=f"{len(rows)} account(s)", title_justify="left")
    for column in ("id", "phone", "label", "state", "leased by", "flood waits (latest)"):
        table.add_column(column)
    for info, holder in rows:
        state = info.state if not info.retired_reason else f"{info.state}: {info.retired_reason}"
        floods = ""
        if info.floods:
            at, seconds = info.floods[0]
            when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")
            floods = f"{len(info.floods)} ({seconds} s at {when})"
        table.add_row(info.account_id, info.phone_tail, info.label, state, holder or "", floods)
    Console(width=120).print(table)


@accounts_app.command("remove")
def remove(account_id: str, redis_url: str = RedisUrl, prefix: str = Prefix) -> None:
    """Remove an account from the pool."""

    async def work(accounts: RedisAccounts, _leases: RedisLeases):
        return await accounts.remove(account_id)

    if not run_with_pool(redis_url, prefix, work):
        typer.echo(
            f"harness: no account {account_id} in the pool (see `harness accounts list`)", err=True
        )
        raise typer.Exit(2)
    typer.echo(f"removed {account_id}")
