"""What the personas of one process share: the LLM gateway, loaded recordings, counters."""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.llm.request import GatewaySettings
from harness.persona.recordings import Recording, read_recordings
from harness.scenario.models import Scenario

if TYPE_CHECKING:  # the gateway, its cache and Redis load only for runs with LLM personas
    from harness.judging.llm_judge import LlmJudge
    from harness.llm.cache import ResponseCache
    from harness.llm.gateway import LlmGateway

DEFAULT_CACHE_DIR = Path(".chatstorm") / "llm-cache"


@dataclass
class PersonaServices:
    seed: str = "0"
    llm: LlmGateway | None = None
    judges: dict[str, LlmJudge] = field(default_factory=dict)
    """The LLM judge of each scenario that needs one (none with ``--no-judge``)."""
    recordings: dict[Path, list[Recording]] = field(default_factory=dict, init=False, repr=False)
    _started: Counter[str] = field(default_factory=Counter, init=False, repr=False)

    def next_index(self, scenario: str) -> int:
        """0, 1, 2, ... per scenario: which variant or recording a new conversation plays."""
        index = self._started[scenario]
        self._started[scenario] += 1
        return index

    def recordings_in(self, path: Path) -> list[Recording]:
        """A recording file's conversations, read once per process (RecordingError if bad)."""
        loaded = self.recordings.get(path)
        if loaded is None:
            loaded = self.recordings[path] = read_recordings(path)
        return loaded

    async def close(self) -> None:
        if self.llm is not None:
            await self.llm.close()


@dataclass(frozen=True)
class LlmCacheSettings:
    """Where LLM answers are kept: Redis when the run has one, else a folder."""

    folder: Path = DEFAULT_CACHE_DIR
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    redis_prefix: str = "chatstorm"


def uses_llm(scenarios: list[Scenario], judge: bool = True) -> bool:
    """Whether a run of these scenarios asks Claude: LLM personas, or (``judge``) the
    LLM judge."""
    return any(
        scenario.persona.engine == "llm" or (judge and scenario.needs_llm_judge)
        for scenario in scenarios
    )


def preload_llm_sdk(scenarios: list[Scenario], judge: bool = True) -> None:
    """Import the SDK now when the run asks Claude: it takes about two seconds, which
    belong to the process's start (in its main thread), not to a run's clock."""
    if uses_llm(scenarios, judge):
        importlib.import_module("harness.llm.gateway")


async def open_services(
    scenarios: list[Scenario],
    seed: str,
    gateway: GatewaySettings,
    cache: LlmCacheSettings,
    judge: bool = True,
) -> PersonaServices:
    """The services the given scenarios need, checked now so a run fails at its start:
    recordings read (RecordingError), the LLM's cache reachable (RedisUnavailable, OSError)
    and its credentials present (LlmUnavailable). ``judge`` False (``--no-judge``): no
    LLM judge, its judgments skipped."""
    services = PersonaServices(seed=seed)
    for scenario in scenarios:
        if scenario.persona.replay is not None:  # the model allows it only with replay
            services.recordings_in(scenario.persona.replay.file)
    if not uses_llm(scenarios, judge):
        return services
    from harness.judging.llm_judge import LlmJudge
    from harness.llm.cache import DiskCache
    from harness.llm.gateway import LlmGateway  # the SDK: two seconds, for LLM runs only
    from harness.llm.request import LlmUnavailable

    llm = LlmGateway(gateway, DiskCache(cache.folder))  # a folder untouched until used
    for scenario in scenarios:  # credentials first: nothing is made without them
        if scenario.persona.engine == "llm":
            llm.client(scenario.persona.llm_settings.base_url)
        if judge and scenario.needs_llm_judge:
            try:
                llm.client(scenario.judge_settings.base_url)
            except LlmUnavailable:
                raise LlmUnavailable(
                    f"scenario {scenario.name!r} needs the LLM judge and there is no Anthropic "
                    "API key: set ANTHROPIC_API_KEY, or run with --no-judge (its LLM "
                    "judgments are then skipped and counted)"
                ) from None
            services.judges[scenario.name] = LlmJudge(llm, scenario.judge_settings)
    llm.cache = await _open_cache(cache)
    services.llm = llm
    return services


async def _open_cache(settings: LlmCacheSettings) -> ResponseCache:
    from harness.llm.cache import DiskCache, RedisCache

    if settings.redis_url is not None:
        from harness.coord.redis_client import connect_redis

        return RedisCache(await connect_redis(settings.redis_url), settings.redis_prefix)
    try:
        settings.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"cannot keep the LLM cache in {settings.folder}: {exc.strerror or exc}; choose a "
            "writable folder with --llm-cache-dir"
        ) from None
    return DiskCache(settings.folder)
