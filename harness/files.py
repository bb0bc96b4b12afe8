"""Files a crash never leaves half written: a reader (another process, a run killed
mid-way) sees a whole JSON document, or JSONL whose every line is whole."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import orjson

LINES_FLUSH_BYTES = 64 * 1024
LINES_FLUSH_S = 1.0


def write_json_atomically(
    path: Path, value: object, prefix: str = ".tmp-", option: int | None = None
) -> None:
    """Write ``value`` as JSON to ``path`` through a temporary file renamed into place."""
    write_bytes_atomically(path, orjson.dumps(value, option=option), prefix)


def write_bytes_atomically(path: Path, content: bytes, prefix: str = ".tmp-") -> None:
    """Write ``content`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class LineFile:
    """A JSONL file written in whole lines: lines gather in memory and go to the file
    together (every 64 KiB or, on the next line, once a second has passed), never a part
    of one. A process killed outright loses the lines it had not written yet, never the
    end of a line; a stop that closes the file loses nothing."""

    def __init__(self, path: Path, flush_bytes: int = LINES_FLUSH_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._pending: list[bytes] = []
        self._size = 0
        self._flush_bytes = flush_bytes
        self._flushed = time.monotonic()

    def write(self, line: bytes) -> None:
        """One line, its newline included."""
        self._pending.append(line)
        self._size += len(line)
        if self._size >= self._flush_bytes or time.monotonic() - self._flushed > LINES_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        data = memoryview(b"".join(self._pending))
        self._pending.clear()
        self._size = 0
        self._flushed = time.monotonic()
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1


def read_json_lines(path: Path) -> Iterator[dict]:
    """A JSONL file's objects, streamed; a line a killed process cut short (or any line
    that is not a JSON object) is left out. FileNotFoundError when there is no file."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(line, dict):
                yield line


class LineSink(Protocol):
    """Where whole lines go: a file (``LineFile``), or a worker's outbox to its master."""

    def write(self, line: bytes) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class LineTee:
    """Whole lines into several places at once (a worker's own file, and its master)."""

    def __init__(self, *sinks: LineSink) -> None:
        self._sinks = sinks

    def write(self, line: bytes) -> None:
        for sink in self._sinks:
            sink.write(line)

    def flush(self) -> None:
        for sink in self._sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()
