"""What the process cannot reach now (Telegram, the Bot API emulator, Redis), said once.

While a peer is down, every user would otherwise retry at once and without pause, each
failure a log line: thousands a second. Here an outage is logged when it starts and when
it ends, and each user that hits it backs off, exponentially in its own failures in a
row, capped and jittered, until it is over. One process, one event loop: no locks.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

log = logging.getLogger("chatstorm")
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0


@dataclass
class _Down:
    since: float
    failures: int = 0


def jittered_backoff(
    attempt: int, first_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """The pause before try ``attempt`` (1, 2, ...): ``first_s`` doubling each time, at
    most ``max_s``, drawn between half of that and all of it so that whoever failed
    together does not try again together."""
    nominal = min(first_s * 2 ** min(attempt - 1, 32), max_s)
    return nominal * (rng or random).uniform(0.5, 1.0)


class Outages:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._down: dict[str, _Down] = {}
        self._rng = rng or random.Random()

    def down(self, peer: str, why: str, in_a_row: int = 1) -> float:
        """``peer`` failed us (``why`` says how, in one line): the real seconds the user
        that saw it, for the ``in_a_row``-th time without a success, waits before it
        tries again."""
        down = self._down.get(peer)
        if down is None:
            down = self._down[peer] = _Down(time.monotonic())
            log.warning(
                "chatstorm: %s is unreachable: %s; users back off until it is back", peer, why
            )
        down.failures += 1
        return jittered_backoff(in_a_row, BACKOFF_FIRST_S, BACKOFF_MAX_S, self._rng)

    def up(self, peer: str) -> None:
        """``peer`` answered: an outage, if there was one, is over."""
        down = self._down.pop(peer, None)
        if down is not None:
            log.warning(
                "chatstorm: %s is reachable again after %.0f s (%d failed attempts)",
                peer,
                time.monotonic() - down.since,
                down.failures,
            )

    def status(self) -> dict[str, float]:
        """Peers down now, with how long they have been (for the live view)."""
        now = time.monotonic()
        down_now = self._down.copy()  # read from the Locust side while the loop writes
        return {peer: round(now - down.since, 1) for peer, down in down_now.items()}


OUTAGES = Outages()
