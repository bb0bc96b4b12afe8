"""Freed heap memory goes back to the system: pages freed inside the heap, which glibc
keeps resident on its own, leave the resident set when the harness asks. The suite runs
on Linux with glibc (as CI does): elsewhere there is nothing to give back, and this fails."""

from pathlib import Path

from harness.runtime.heap import give_back_freed_memory

PAGE = 4096


def _resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def test_the_free_pages_inside_the_heap_leave_the_resident_set() -> None:
    give_back_freed_memory()
    # Made one by one (a constant would be one object), 200 MB of malloc'd, written pages.
    blocks = [bytes([i % 251]) * 4000 for i in range(50_000)]
    kept = blocks[::16]  # one block in sixteen stays: the free runs lie inside the heap
    del blocks
    held = _resident_mb()
    give_back_freed_memory()
    assert held - _resident_mb() > 100, "glibc kept the freed pages: malloc_trim did not run"
    assert len(kept) == 3125
