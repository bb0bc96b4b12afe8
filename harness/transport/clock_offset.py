"""The offset between a remote clock and ours, from request/answer round trips (NTP's way).

A round trip sent at ``a``, stamped ``r`` by the remote end, answered at ``b`` (our
clock) tells ``offset = r - (a + b) / 2`` to within half the round trip. The estimate in
use is the sample with the shortest round trip among the recent ones: the tightest
bound, and one that changes rarely, so two remote stamps mapped onto our clock keep
their exact difference. "Recent" lets the estimate follow the slow drift between two
machines' clocks.
"""

from __future__ import annotations

from collections import deque

WINDOW = 12


class ClockOffset:
    def __init__(self) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=WINDOW)  # (rtt, offset)
        self.offset = 0.0
        self.rtt: float | None = None

    def add(self, sent: float, remote: float, received: float) -> None:
        self._samples.append((received - sent, remote - (sent + received) / 2))
        self.rtt, self.offset = min(self._samples)

    def local(self, remote: float) -> float:
        """A remote timestamp on our clock."""
        return remote - self.offset
