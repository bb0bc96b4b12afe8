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
    from harness.llm.cache import ResponseCache
    from harness.llm.gateway import LlmGateway

DEFAULT_CACHE_DIR = Path(".chatstorm") / "llm-cache"


@dataclass
class PersonaServices:
    seed: str = "0"
    llm: LlmGateway | None = None
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


def preload_llm_sdk(scenarios: list[Scenario]) -> None:
    """Import the SDK now when any scenario has LLM personas: it takes about two seconds,
    which belong to the process's start (in its main thread), not to a run's clock."""
    if any(scenario.persona.engine == "llm" for scenario in scenarios):
        importlib.import_module("harness.llm.gateway")


async def open_services(
    scenarios: list[Scenario],
    seed: str,
    gateway: GatewaySettings,
    cache: LlmCacheSettings,
) -> PersonaServices:
    """The services the given scenarios need, checked now so a run fails at its start:
    recordings read (RecordingError), the LLM's cache reachable (RedisUnavailable, OSError)
    and its credentials present (LlmUnavailable)."""
    services = PersonaServices(seed=seed)
    for scenario in scenarios:
        if scenario.persona.replay is not None:  # the model allows it only with replay
            services.recordings_in(scenario.persona.replay.file)
    llm_scenarios = [scenario for scenario in scenarios if scenario.persona.engine == "llm"]
    if not llm_scenarios:
        return services
    from harness.llm.cache import DiskCache
    from harness.llm.gateway import LlmGateway  # the SDK: two seconds, for LLM runs only

    llm = LlmGateway(gateway, DiskCache(cache.folder))  # a folder untouched until used
    for scenario in llm_scenarios:  # credentials first: nothing is made without them
        llm.client(scenario.persona.llm_settings.base_url)
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
