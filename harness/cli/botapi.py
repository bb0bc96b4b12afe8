"""``harness botapi serve``: the Telegram Bot API emulator as a standalone server."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import typer

from harness.botapi.ids import default_state_path
from harness.options import host as host_name
from harness.options import output_file, tcp_port

botapi_app = typer.Typer(help="The Telegram Bot API emulator.", no_args_is_help=True)
StateFile = typer.Option(
    None,
    parser=output_file,
    help="Where update and user ids are kept across restarts "
    "(default: $XDG_STATE_HOME/chatstorm/botapi.json).",
)


@botapi_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", parser=host_name, help="Address to listen on."),
    port: int = typer.Option(8081, parser=tcp_port, help="Port to listen on (0: any free port)."),
    state: str | None = StateFile,
    telegram_limits: bool = typer.Option(
        False,
        "--telegram-limits",
        help="Answer bots that send too fast with 429, as Telegram does: about 1 message/s "
        "per chat (short bursts pass), 30/s per bot, 20/min per group.",
    ),
    link_token: str | None = typer.Option(
        None,
        "--link-token",
        envvar="CHATSTORM_LINK_TOKEN",
        help="A secret the harness must present on its link (required with a --host "
        "beyond this machine; the harness takes it as --botapi-link-token or "
        "CHATSTORM_LINK_TOKEN).",
        show_default=False,
    ),
) -> None:
    """Serve the Bot API at http://HOST:PORT/bot<token>/<method> until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        state_path = Path(state) if state else default_state_path()
        asyncio.run(_serve(host, port, state_path, telegram_limits, link_token))
    except (OSError, ValueError) as exc:
        typer.echo(f"harness: {exc}", err=True)
        raise typer.Exit(2) from None


async def _serve(
    host: str, port: int, state: Path, telegram_limits: bool, link_token: str | None
) -> None:
    from harness.botapi.server import Emulator  # aiohttp's server: only to serve

    emulator = Emulator.configured(state, telegram_limits, link_token)
    bound = await emulator.start(host, port)
    limits = "Telegram-like limits on" if telegram_limits else "no limits"
    typer.echo(f"chatstorm Bot API emulator on http://{host}:{bound} ({limits}; state {state})")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()
    for bot_id, figures in emulator.stats()["bots"].items():
        typer.echo(f"bot {bot_id}: {figures}")
