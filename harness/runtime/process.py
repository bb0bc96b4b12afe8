"""The asyncio side of a run: what a process opens, the conversations it holds, and how
it lets go of them, bounded.

Everything here runs on the process's one event loop, but ``status`` and ``stuck``,
which copy what they read so the Locust side may call them. It knows nothing of Locust or
gevent: the Locust adapter runs these coroutines on its loop thread, ``harness generate``
runs them under ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.clock import Clock, Timeline
from harness.conversation import ConversationObserver, ConversationResult, run_conversation
from harness.llm.request import GatewaySettings
from harness.outages import OUTAGES
from harness.persona.services import LlmCacheSettings, PersonaServices, open_services
from harness.runtime.bounds import say_failed, say_ran_out
from harness.scenario import Scenario
from harness.transport.base import Transport
from harness.transport.kind import OpenContext, TransportChoice
from harness.transport.registry import default_transport
from harness.transport.traffic import SilenceWatch

if TYPE_CHECKING:
    from harness.botapi.server import Emulator

log = logging.getLogger("chatstorm")


def new_run_id() -> str:
    """``20261204-170102-3fa9c1``: when the run started (UTC) and a random tag, so runs
    sort by time and two started in the same second differ."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunSettings:
    """How a process runs its conversations, whatever front end started it."""

    transport: TransportChoice = field(default_factory=default_transport)
    time_scale: float = 1.0
    seed: str = "0"
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    cache: LlmCacheSettings = field(default_factory=LlmCacheSettings)
    report_dir: Path | None = None
    transcripts: bool = True
    expect: dict[str, str] = field(default_factory=dict)
    """Objectives for every scenario (``--expect``), over those the scenarios declare."""
    judge: bool = True
    """The LLM judge answers what only it can (``--no-judge``: skipped and counted)."""
    judge_all: bool = False
    """Every conversation gets a verdict, its scenario's criteria or none (``harness run``)."""
    expect_totals: dict[str, float] = field(default_factory=dict)
    """Objectives over the whole run (``harness run --min-success-rate``)."""
    process: str | None = None
    """This process's name among several (a Locust worker's id)."""
    run_id: str = field(default_factory=new_run_id)
    """Shared by every process of the run; in its files and its Redis leases."""

    @property
    def writes_transcripts(self) -> bool:
        """The transcripts (and the reference agent's log) go into the report folder."""
        return self.report_dir is not None and self.transcripts


class ProcessRuntime:
    """Opens the transport and the persona services, holds conversations on them and
    lets go of them. ``converse`` may run many times at once."""

    def __init__(self, settings: RunSettings, scenarios: list[Scenario]) -> None:
        self.settings = settings
        self.scenarios = {scenario.name: scenario for scenario in scenarios}
        self.clock = Clock(settings.time_scale)
        self.timeline = Timeline()
        """The ``t_s`` axis of the run's files; a front end restarts it with each test."""
        self.transport: Transport | None = None
        self.services: PersonaServices | None = None
        self.emulator: Emulator | None = None  # --botapi-serve
        self.silence: SilenceWatch | None = None
        self._silence_task: asyncio.Task | None = None
        self.active: dict[asyncio.Task, str] = {}
        """The conversations running now, as tasks of this loop, with their scenario."""

    async def serve_botapi(
        self, url: str, state: Path | None, telegram_limits: bool, link_token: str | None
    ) -> None:
        """The Bot API emulator on this loop, at ``url``, for this process's
        conversations and any other process's."""
        from harness.botapi.server import Emulator  # aiohttp's server: only when asked

        where = urlsplit(url)
        self.emulator = Emulator.configured(state, telegram_limits, link_token)
        await self.emulator.start(where.hostname or "127.0.0.1", where.port or 80)

    async def open(self) -> None:
        """Reach the transport and open what LLM and replay personas share, so a run that
        cannot start fails now, at its start."""
        settings = self.settings
        context = OpenContext(
            self.clock,
            settings.seed,
            self.timeline,
            settings.report_dir,
            settings.writes_transcripts,
            settings.process,
            settings.run_id,
        )
        self.transport = await settings.transport.open(context)
        self.silence = SilenceWatch(self.transport.peer, self.clock)
        self._silence_task = asyncio.create_task(self.silence.run())
        run = [scenario for scenario in self.scenarios.values() if scenario.weight > 0]
        self.services = await open_services(
            run, settings.seed, settings.gateway, settings.cache, settings.judge
        )

    async def converse(
        self,
        scenario: Scenario,
        conversation_id: str,
        observer: ConversationObserver,
        outages_in_a_row: int = 0,
    ) -> ConversationResult:
        """Hold one conversation. One that found the agent's side unreachable backs off
        before it returns, longer for each such conversation its caller had in a row."""
        task = asyncio.current_task()
        assert task is not None and self.transport is not None
        self.active[task] = scenario.name
        try:
            result = await run_conversation(
                self.transport,
                scenario,
                conversation_id,
                self.clock,
                observer,
                self.settings.seed,
                self.services,
                self.settings.judge_all,
            )
            if result.outage is not None:
                why = result.error or result.end_reason
                await asyncio.sleep(OUTAGES.down(result.outage, why, outages_in_a_row + 1))
            return result
        finally:
            self.active.pop(task, None)

    async def wind_down(self, within_s: float) -> Counter[str]:
        """Wait, at most ``within_s``, for the conversations still running (told to stop
        by their callers); those still running then, by scenario."""
        if self.active:
            await asyncio.wait(list(self.active), timeout=within_s)
        return Counter(self.active.values())

    def stuck(self) -> Counter[str]:
        """The conversations running now, by scenario (safe to read from another thread)."""
        return Counter(self.active.copy().values())

    def status(self) -> dict:
        """What the live view shows about the transport: its own figures, silence, and
        what is unreachable now (read from the Locust side: every part is a copy)."""
        status = self.transport.status() if self.transport is not None else {}
        if self.silence is not None:
            status.update(self.silence.status(Clock.now()))
        status["unreachable"] = OUTAGES.status()
        return status

    async def close(self, within_s: float) -> None:
        """Close the transport, the emulator and the persona services, within ``within_s``
        all together; each that does not close in time, or fails, is one line."""
        if self._silence_task is not None:
            self._silence_task.cancel()
        ends = time.monotonic() + within_s
        closing = (
            (self.transport and self.transport.close, "closing the transport"),
            (self.emulator and self.emulator.stop, "stopping the Bot API emulator"),
            (self.services and self.services.close, "closing the persona services"),
        )
        for close, what in closing:
            if close:
                await _bounded(close(), ends - time.monotonic(), what)


async def _bounded(work: Awaitable[object], timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(max(timeout, 0.0)):
            await work
    except TimeoutError:
        say_ran_out(what, timeout)
    except Exception as exc:
        say_failed(what, exc)
