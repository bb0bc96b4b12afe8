"""What a transport is to the harness: its settings, its options, its checks, its open().

Each transport's module defines one ``TransportKind`` and the registry lists it; nothing
else names a transport. A kind's module stays light (no network library): ``open()``
imports the implementation, and ``preload()`` lets Locust import it in the main thread.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from harness.clock import Clock, Timeline
from harness.options import OptionGroup
from harness.transport.base import Transport

SettingsT = TypeVar("SettingsT")


@dataclass(frozen=True)
class OpenContext:
    """What the run gives every transport it opens."""

    clock: Clock
    seed: str
    timeline: Timeline
    report_dir: Path | None
    """Where this process writes its files (a Locust worker: its own folder)."""
    writes_transcripts: bool
    process: str | None = None
    """This process's name among several writing beside each other (a Locust worker's
    id): a file a user named explicitly gets it, so processes never share one."""
    run_id: str = ""
    """The run's id, shared by all its processes (Redis lease holders carry it)."""


class TransportKind(ABC, Generic[SettingsT]):
    name: ClassVar[str]
    options: ClassVar[OptionGroup | None] = None
    implementation: ClassVar[str | None] = None
    """The module that holds the transport and imports its libraries."""

    @abstractmethod
    def settings(self, values: Mapping[str, Any]) -> SettingsT:
        """The settings from the run's option values (every front end's, by ``dest``)."""

    def problems(self, settings: SettingsT) -> list[str]:
        """What is missing or wrong, each with the option that fixes it."""
        return []

    @abstractmethod
    async def open(self, settings: SettingsT, context: OpenContext) -> Transport:
        """The transport, connected to what it needs."""

    def preload(self) -> None:
        """Import the implementation (and its libraries) now, in this thread."""
        if self.implementation is not None:
            importlib.import_module(self.implementation)


@dataclass(frozen=True)
class TransportChoice:
    """The transport a run uses and its settings."""

    kind: TransportKind
    settings: Any

    @property
    def name(self) -> str:
        return self.kind.name

    def problems(self) -> list[str]:
        return self.kind.problems(self.settings)

    async def open(self, context: OpenContext) -> Transport:
        return await self.kind.open(self.settings, context)
