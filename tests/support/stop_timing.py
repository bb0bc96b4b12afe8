"""How long a headless Locust run took to exit after it was told to end (its -t ran out,
or every user had held its --conversations-per-user), read from its log (read as it
comes, to wait on)."""

from __future__ import annotations

import re
import subprocess
import threading
from datetime import datetime

from tests.support.locust_runs import wait_for

RUN_ENDS = re.compile(
    r"^\[(\S+ \S+)\] .*(--run-time limit reached|every user held its \d+ conversation)",
    re.MULTILINE,
)


def seconds_after_run_end(printed: str, exited_at: float) -> float:
    """Seconds from the line that ends the run (Locust's "--run-time limit reached", or
    chatstorm's "every user held its N conversation(s)") to ``exited_at`` (epoch seconds,
    taken when the process was seen to exit)."""
    match = RUN_ENDS.search(printed)
    assert match is not None, f"the run was never told to end: {printed[-2000:]}"
    reached = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return exited_at - reached


class Lines:
    """A process's stderr, read line by line as it comes (a thread), to wait on."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> None:
        wait_for(lambda: any(text in line for line in self.lines), timeout, repr(text))

    def text(self) -> str:
        self._reader.join(timeout=5)
        return "".join(self.lines)
