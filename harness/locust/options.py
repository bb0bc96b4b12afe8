"""chatstorm's Locust command-line options.

Locust imports the locustfile before it parses the full command line, but User classes
(one per scenario) must exist at import time; so ``--scenario`` is also read early,
straight from ``sys.argv`` (or ``LOCUST_SCENARIO``), by ``scenario_paths``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from harness.botapi.protocol import CHAT_TYPES
from harness.llm.request import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, GatewaySettings
from harness.locust.shape_plan import SHAPES
from harness.persona.services import DEFAULT_CACHE_DIR, LlmCacheSettings
from harness.report import parse_override
from harness.transport.factory import TRANSPORTS, TransportSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options with Locust's parser (``events.init_command_line_parser``)."""
    group = parser.add_argument_group("chatstorm", "Conversational load against a chat agent")
    group.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="mock",
        env_var="LOCUST_TRANSPORT",
        help="How messages reach the agent (default: mock, the built-in reference agent).",
    )
    group.add_argument(
        "--scenario",
        action="append",
        default=None,
        help="Scenario file or folder; repeatable (default: scenarios/). "
        "LOCUST_SCENARIO takes a comma-separated list.",
    )
    group.add_argument(
        "--time-scale",
        type=_positive_float,
        default=1.0,
        env_var="LOCUST_TIME_SCALE",
        help="Multiply every scenario time (pauses, windows, the agent's delays) by this; "
        "0.1 runs ten times faster. Reported latencies stay real milliseconds.",
    )
    group.add_argument(
        "--report-dir",
        default=None,
        env_var="LOCUST_REPORT_DIR",
        help="Write report.json and transcripts.jsonl into this folder.",
    )
    group.add_argument(
        "--no-transcripts",
        action="store_true",
        default=False,
        env_var="LOCUST_NO_TRANSCRIPTS",
        help="With --report-dir, write report.json only: no transcripts.jsonl or "
        "reference_agent.jsonl (a line per message costs CPU on the largest runs).",
    )
    group.add_argument(
        "--seed",
        default="0",
        env_var="LOCUST_SEED",
        help="Seed for personas and timing: the same seed replays the same conversations.",
    )
    group.add_argument(
        "--conversations-per-user",
        type=_positive_int,
        default=None,
        metavar="N",
        env_var="LOCUST_CONVERSATIONS_PER_USER",
        help="Each user stops after N conversations (default: until the run ends). With "
        "it, a run can finish every conversation instead of interrupting them.",
    )
    group.add_argument(
        "--expect",
        action="append",
        type=_expectation,
        default=None,
        metavar="KEY=VALUE",
        help="A service-level objective checked at the end of a headless run, for every "
        "scenario (overrides its expect:), e.g. first_reply_p95_ms=3000. Repeatable.",
    )
    telegram = parser.add_argument_group(
        "chatstorm over Telegram", "With --transport telethon: real accounts, the real bot."
    )
    telegram.add_argument(
        "--bot",
        default=None,
        env_var="LOCUST_BOT",
        help="The bot under test: @username or numeric id.",
    )
    telegram.add_argument(
        "--api-id",
        type=int,
        default=None,
        env_var="TG_API_ID",
        help="Telegram API id (my.telegram.org).",
    )
    telegram.add_argument(
        "--api-hash",
        default=None,
        env_var="TG_API_HASH",
        help="Telegram API hash (never logged or reported).",
    )
    telegram.add_argument(
        "--accounts-file",
        default=None,
        metavar="PATH",
        help="One Telethon StringSession per line (# comments allowed).",
    )
    telegram.add_argument(
        "--redis-url",
        default=None,
        env_var="REDIS_URL",
        help="Redis that holds the account pool and its leases, and the LLM response "
        "cache, shared by all workers (default: in memory / on disk, this process only).",
    )
    telegram.add_argument(
        "--redis-prefix",
        default="chatstorm",
        help="Key prefix of the pool in Redis (default chatstorm).",
    )
    botapi = parser.add_argument_group(
        "chatstorm over the Bot API emulator",
        "With --transport botapi: your real bot, pointed at the emulator (harness/botapi).",
    )
    botapi.add_argument(
        "--botapi-url",
        default=None,
        env_var="CHATSTORM_BOTAPI_URL",
        help="Where the emulator listens (default with --botapi-serve: http://127.0.0.1:8081).",
    )
    botapi.add_argument(
        "--bot-token",
        default=None,
        env_var="CHATSTORM_BOT_TOKEN",
        help="The token your bot uses (never logged or reported).",
    )
    botapi.add_argument(
        "--botapi-serve",
        action="store_true",
        default=False,
        help="Start the emulator inside this Locust process (the master) at --botapi-url.",
    )
    botapi.add_argument(
        "--botapi-chat",
        choices=CHAT_TYPES,
        default="private",
        help="The kind of chat each simulated user writes in (default private).",
    )
    botapi.add_argument(
        "--botapi-state",
        default=None,
        metavar="PATH",
        help="With --botapi-serve: where update ids are kept across restarts "
        "(default: $XDG_STATE_HOME/chatstorm/botapi.json).",
    )
    botapi.add_argument(
        "--telegram-limits",
        action="store_true",
        default=False,
        help="With --botapi-serve: answer a bot that sends too fast with 429, as Telegram does.",
    )
    llm = parser.add_argument_group(
        "chatstorm LLM personas", "Scenarios with persona engine: llm (Claude, see README)."
    )
    llm.add_argument(
        "--llm-budget-usd",
        type=_positive_float,
        default=None,
        metavar="USD",
        env_var="LOCUST_LLM_BUDGET_USD",
        help="Stop new LLM requests once the run (with workers: all of them, counted by the "
        "master) has spent this much (estimated from the price table); personas go on from "
        "the cache or scripted.",
    )
    llm.add_argument(
        "--llm-concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"LLM requests in flight at once per process (default {DEFAULT_CONCURRENCY}).",
    )
    llm.add_argument(
        "--llm-max-retries",
        type=_non_negative_int,
        default=DEFAULT_MAX_RETRIES,
        metavar="N",
        help="Retries of a failed LLM request (429, 529, 5xx; exponential backoff with "
        f"jitter, honouring retry-after) before the turn is played scripted "
        f"(default {DEFAULT_MAX_RETRIES}).",
    )
    llm.add_argument(
        "--llm-cache-dir",
        default=str(DEFAULT_CACHE_DIR),
        metavar="PATH",
        help="Folder of the LLM response cache when there is no --redis-url "
        f"(default {DEFAULT_CACHE_DIR}).",
    )
    llm.add_argument(
        "--llm-base-url",
        type=_http_url,
        default=None,
        metavar="URL",
        help="Messages API endpoint for every LLM persona (default: the scenario's "
        "llm.base_url, else ANTHROPIC_BASE_URL, else Anthropic's).",
    )
    shapes = parser.add_argument_group(
        "chatstorm load shapes", "Users over time; the peak is -u/--users, the pace -r."
    )
    shapes.add_argument(
        "--shape",
        choices=SHAPES,
        default=None,
        help="steady, ramp, step, spike or soak (see README).",
    )
    shapes.add_argument(
        "--shape-duration",
        default=None,
        metavar="TIME",
        help="How long the shape lasts, e.g. 10m (default: --run-time; soak: 1h).",
    )
    shapes.add_argument(
        "--shape-steps",
        type=_positive_int,
        default=5,
        metavar="N",
        help="step: how many equal steps up to the peak (default 5).",
    )
    shapes.add_argument(
        "--shape-baseline",
        type=int,
        default=0,
        metavar="USERS",
        help="spike: users before and after the spike (default 0).",
    )
    shapes.add_argument(
        "--shape-spike-length",
        default="60s",
        metavar="TIME",
        help="spike: how long the peak lasts (default 60s).",
    )
    parser.set_defaults(class_picker=True)


def scenario_paths(argv: Sequence[str], default: Path) -> list[str]:
    """The ``--scenario`` values given on the command line or in LOCUST_SCENARIO."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--scenario", action="append", default=None)
    known, _ = early.parse_known_args(list(argv))
    if known.scenario:
        return known.scenario
    from_env = os.environ.get("LOCUST_SCENARIO")
    if from_env:
        return [part for part in from_env.split(",") if part]
    return [str(default)]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
    return value


def _http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _expectation(text: str) -> tuple[str, float]:
    try:
        return parse_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def transport_settings(options: argparse.Namespace) -> TransportSettings:
    return TransportSettings(
        name=options.transport,
        seed=options.seed,
        bot=options.bot,
        api_id=options.api_id,
        api_hash=options.api_hash,
        accounts_file=Path(options.accounts_file) if options.accounts_file else None,
        redis_url=options.redis_url,
        redis_prefix=options.redis_prefix,
        botapi_url=options.botapi_url,
        bot_token=options.bot_token,
        botapi_serve=options.botapi_serve,
        botapi_chat=options.botapi_chat,
    )


def llm_settings(options: argparse.Namespace) -> tuple[GatewaySettings, LlmCacheSettings]:
    gateway = GatewaySettings(
        budget_usd=options.llm_budget_usd,
        concurrency=options.llm_concurrency,
        max_retries=options.llm_max_retries,
        base_url=options.llm_base_url,
    )
    cache = LlmCacheSettings(
        folder=Path(options.llm_cache_dir),
        redis_url=options.redis_url,
        redis_prefix=options.redis_prefix,
    )
    return gateway, cache
