"""What a bounded wait on the stop path says when it runs out or fails: one line each,
the same words whichever side (the loop, or Locust's waiting on it) held the bound."""

from __future__ import annotations

import logging

log = logging.getLogger("chatstorm")


def say_ran_out(what: str, timeout: float) -> None:
    log.warning("chatstorm: %s did not end within %.1f s; going on without it", what, timeout)


def say_failed(what: str, exc: BaseException) -> None:
    log.warning("chatstorm: %s failed (%s: %s); going on", what, type(exc).__name__, exc)
