"""The options of a run, whatever front end starts it (Locust now, ``harness run`` next),
and the ``RunSettings`` they make."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.llm.request import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, GatewaySettings
from harness.options import (
    Option,
    OptionGroup,
    http_url,
    label,
    non_negative_int,
    output_folder,
    positive_float,
    positive_int,
    redis_url,
)
from harness.persona.services import DEFAULT_CACHE_DIR, LlmCacheSettings
from harness.report.slo import parse_override
from harness.runtime.process import RunSettings
from harness.transport.registry import TRANSPORTS, choose_transport

RUN = OptionGroup(
    "chatstorm",
    "Conversational load against a chat agent",
    (
        Option(
            "--transport",
            "How messages reach the agent (default: mock, the built-in reference agent).",
            default="mock",
            choices=tuple(TRANSPORTS),
            env="LOCUST_TRANSPORT",
        ),
        Option(
            "--scenario",
            "Scenario file or folder; repeatable (default: scenarios/). "
            "LOCUST_SCENARIO takes a comma-separated list.",
            repeat=True,
        ),
        Option(
            "--time-scale",
            "Multiply every scenario time (pauses, windows, the agent's delays) by this; "
            "0.1 runs ten times faster. Reported latencies stay real milliseconds.",
            default=1.0,
            parse=positive_float,
            env="LOCUST_TIME_SCALE",
        ),
        Option(
            "--report-dir",
            "Write report.json and transcripts.jsonl into this folder.",
            env="LOCUST_REPORT_DIR",
        ),
        Option(
            "--no-transcripts",
            "With --report-dir, write report.json only: no transcripts.jsonl or "
            "reference_agent.jsonl (a line per message costs CPU on the largest runs).",
            default=False,
            switch=True,
            env="LOCUST_NO_TRANSCRIPTS",
        ),
        Option(
            "--run-id",
            "A name for the run, in every file it writes and in its Redis leases (default: "
            "the start time and a random tag; a Locust master's reaches its workers).",
            env="CHATSTORM_RUN_ID",
            parse=label,
            metavar="ID",
        ),
        Option(
            "--seed",
            "Seed for personas and timing: the same seed replays the same conversations.",
            default="0",
            env="LOCUST_SEED",
        ),
        Option(
            "--no-judge",
            "Run scenarios that need the LLM judge without it: their LLM judgments are "
            "skipped and counted, offline ones still made.",
            default=False,
            switch=True,
            env="LOCUST_NO_JUDGE",
        ),
        Option(
            "--expect",
            "A service-level objective checked at the end of a headless run, for every "
            "scenario (overrides its expect:), e.g. first_reply_p95_ms=3000. Repeatable.",
            parse=parse_override,
            metavar="KEY=VALUE",
            repeat=True,
        ),
    ),
)

SHARED_STATE = OptionGroup(
    "chatstorm shared state",
    "Redis, shared by every process of a run.",
    (
        Option(
            "--redis-url",
            "Redis that holds the account pool and its leases, and the LLM response "
            "cache, shared by all workers (default: in memory / on disk, this process only).",
            parse=redis_url,
            env="REDIS_URL",
        ),
        Option(
            "--redis-prefix",
            "Key prefix of the pool in Redis (default chatstorm).",
            default="chatstorm",
            parse=label,
        ),
    ),
)

LLM = OptionGroup(
    "chatstorm LLM personas",
    "Scenarios with persona engine: llm (Claude, see README).",
    (
        Option(
            "--llm-budget-usd",
            "Stop new LLM requests once the run (with workers: all of them, counted by "
            "the master) has spent this much (estimated from the price table); personas go "
            "on from the cache or scripted.",
            parse=positive_float,
            metavar="USD",
            env="LOCUST_LLM_BUDGET_USD",
        ),
        Option(
            "--llm-concurrency",
            f"LLM requests in flight at once per process (default {DEFAULT_CONCURRENCY}).",
            default=DEFAULT_CONCURRENCY,
            parse=positive_int,
            metavar="N",
        ),
        Option(
            "--llm-max-retries",
            "Retries of a failed LLM request (429, 529, 5xx; exponential backoff with "
            "jitter, honouring retry-after) before the turn is played scripted "
            f"(default {DEFAULT_MAX_RETRIES}).",
            default=DEFAULT_MAX_RETRIES,
            parse=non_negative_int,
            metavar="N",
        ),
        Option(
            "--llm-cache-dir",
            "Folder of the LLM response cache when there is no --redis-url "
            f"(default {DEFAULT_CACHE_DIR}).",
            parse=output_folder,
            metavar="PATH",
        ),
        Option(
            "--llm-base-url",
            "Messages API endpoint for every LLM persona (default: the scenario's "
            "llm.base_url, else ANTHROPIC_BASE_URL, else Anthropic's).",
            parse=http_url,
            metavar="URL",
        ),
    ),
)

GROUPS = (RUN, SHARED_STATE, LLM)
"""Every run option, transports' apart (each kind declares its own)."""


def transport_groups() -> tuple[OptionGroup, ...]:
    """Every transport's option group: what Locust's parser and ``harness run`` both
    render."""
    return tuple(kind.options for kind in TRANSPORTS.values() if kind.options is not None)


def run_settings(values: Mapping[str, Any], report_dir: Path | None) -> RunSettings:
    """The settings the option ``values`` (by ``dest``) describe. ``report_dir`` is where
    this process writes (a Locust worker writes into a folder of its own).

    Raises ValueError for a transport that does not exist."""
    gateway = GatewaySettings(
        budget_usd=values.get("llm_budget_usd"),
        concurrency=values.get("llm_concurrency") or DEFAULT_CONCURRENCY,
        max_retries=values.get("llm_max_retries", DEFAULT_MAX_RETRIES),
        base_url=values.get("llm_base_url"),
    )
    cache = LlmCacheSettings(
        folder=Path(values.get("llm_cache_dir") or DEFAULT_CACHE_DIR),
        redis_url=values.get("redis_url"),
        redis_prefix=values.get("redis_prefix") or "chatstorm",
    )
    return RunSettings(
        transport=choose_transport(values),
        time_scale=values.get("time_scale") or 1.0,
        seed=values.get("seed") or "0",
        gateway=gateway,
        cache=cache,
        report_dir=report_dir,
        transcripts=not values.get("no_transcripts"),
        expect=dict(values.get("expect") or []),
        judge=not values.get("no_judge"),
        **({"run_id": values["run_id"]} if values.get("run_id") else {}),
    )
