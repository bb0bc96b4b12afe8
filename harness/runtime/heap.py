"""Freed heap memory, given back to the system during a long run.

glibc's malloc keeps the pages of memory a program frees, to reuse them: they stay
resident until ``malloc_trim`` hands them back. A run frees millions of messages,
bursts and conversations an hour, on two threads (Locust's and the harness loop's), each
with an arena of its own, and the 30-minute soak showed the result: Python's own
allocated blocks and objects flat after the warm-up, the C heap's bytes in use flat,
yet resident memory creeping up some 4 MB an hour as the arenas' free pages were touched
again and kept. Handing free pages back once a minute costs a few milliseconds and
keeps resident memory at what the run holds. Elsewhere than glibc (musl, macOS) there is
no such call, and nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def give_back_freed_memory() -> bool:
    """Return the free pages of every malloc arena to the system; False where the C
    library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
