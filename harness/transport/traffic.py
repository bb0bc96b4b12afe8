"""Signs of life from the agent's side, and the alarm when there are none.

A network that goes silent (connections kept, pings answered, nothing else) shows no
error anywhere: sends wait, replies never come. Every transport's inbox and every
acknowledged send note the time here; the watch logs once when nothing has come for a
whole minute while conversations wait on the transport, and once when traffic is back.
One process, one loop: plain attributes, no locks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from harness.clock import Clock

log = logging.getLogger("chatstorm")
SILENCE_S = 60.0  # scenario seconds without traffic that raise the alarm


@dataclass(slots=True)
class Traffic:
    last: float
    """When the transport last delivered anything or acknowledged a send (Clock.now())."""
    waiting: int = 0
    """Conversations waiting on the transport now: a send in flight or a reply collected."""


TRAFFIC = Traffic(Clock.now())


class SilenceWatch:
    """Says, once per silent stretch, that nothing comes from ``peer`` (Telegram, the
    Bot API emulator...) while conversations wait on it; ``status`` feeds the live view.
    Durations it shows are scenario seconds, like the scenario's own."""

    def __init__(self, peer: str, clock: Clock, traffic: Traffic = TRAFFIC) -> None:
        self.peer = peer
        self.traffic = traffic
        self.clock = clock
        self.limit_s = clock.real(SILENCE_S)
        self.silent_since: float | None = None
        traffic.last = Clock.now()  # a run starts: no silence before it counts

    async def run(self) -> None:
        every = min(1.0, self.limit_s / 6)
        while True:
            await asyncio.sleep(every)
            self.check(Clock.now())

    def check(self, now: float) -> None:
        traffic = self.traffic
        quiet = now - traffic.last
        if self.silent_since is None:
            if traffic.waiting and quiet >= self.limit_s:
                self.silent_since = traffic.last
                log.warning(
                    "chatstorm: no traffic from %s for %g s: %d conversations waiting",
                    self.peer,
                    SILENCE_S,
                    traffic.waiting,
                )
        elif quiet < self.limit_s:
            log.warning(
                "chatstorm: traffic from %s again after %.0f s of silence",
                self.peer,
                self._scenario_s(traffic.last - self.silent_since),
            )
            self.silent_since = None

    def _scenario_s(self, real_s: float) -> float:
        """What the log and the live view say is in scenario seconds, as the alarm is."""
        return real_s / self.clock.time_scale

    def status(self, now: float) -> dict:
        silent = self.silent_since is not None
        return {
            "silent": silent,
            "silent_for_s": round(self._scenario_s(now - self.silent_since), 1) if silent else 0.0,
            "waiting_on_transport": self.traffic.waiting,
        }
