"""Workers' lines, streamed to their master: one fleet, one set of files.

A worker's transcript and verdict lines go into its ``Outbox`` instead of its own disk;
it sends them in bounded chunks, each numbered (``seq``, per worker, from 1) and carrying
how many lines of each kind the worker has put in chunks so far (``sent``) and dropped
(``dropped``). The master's ``Inbox`` writes each chunk's lines to the run's files and,
from the numbers alone, knows what it never got: a chunk missing from the sequence (the
transport between them drops past its queue limit, silently) shows as a gap, and its
lines as the difference between what was sent and what arrived. Nothing is assumed
delivered.

A worker whose outbox is full (its master cannot keep up, or the link is gone) drops
the newest lines and counts them: figures travel apart, in the workers' reports, and are
never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

KINDS = ("transcript", "conversations")
CHUNK_LINES = 2_000
CHUNK_BYTES = 512 * 1024
OUTBOX_BYTES = 64 * 1024 * 1024
"""What a worker holds for its master at most before it drops lines."""


class Channel:
    """One kind of line into the outbox, as a line file takes them."""

    def __init__(self, outbox: Outbox, kind: str) -> None:
        self._outbox = outbox
        self._kind = kind

    def write(self, line: bytes) -> None:
        self._outbox.put(self._kind, line)

    def flush(self) -> None:
        """Lines leave with the next chunk, not on flush."""

    def close(self) -> None:
        """The outbox outlives its channels: its last lines still go."""


@dataclass
class Outbox:
    """A worker's lines on their way to the master."""

    limit_bytes: int = OUTBOX_BYTES
    run_id: str = ""
    """Every chunk names its test: a master never mixes one test's lines into another's."""
    on_first_drop: Callable[[], None] = lambda: None
    _pending: list[tuple[str, bytes]] = field(default_factory=list)
    _bytes: int = 0
    seq: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def channel(self, kind: str) -> Channel:
        return Channel(self, kind)

    def put(self, kind: str, line: bytes) -> None:
        if self._bytes + len(line) > self.limit_bytes:
            if not self.dropped:
                self.on_first_drop()
            self.dropped[kind] += 1
            return
        self._pending.append((kind, line))
        self._bytes += len(line)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def take_chunk(
        self, max_lines: int = CHUNK_LINES, max_bytes: int = CHUNK_BYTES, final: bool = False
    ) -> dict | None:
        """The next chunk to send (None when there is nothing to say). ``final``: the last
        one, sent even when empty so the master knows the worker has said everything."""
        if not self._pending and not final:
            return None
        lines: dict[str, list[bytes]] = {}
        size = taken = 0
        for kind, line in self._pending:
            if taken and (taken >= max_lines or size + len(line) > max_bytes):
                break
            lines.setdefault(kind, []).append(line)
            size += len(line)
            taken += 1
        del self._pending[:taken]
        self._bytes -= size
        for kind, chunk_lines in lines.items():
            self.sent[kind] += len(chunk_lines)
        self.seq += 1
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "lines": lines,
            "sent": dict(self.sent),
            "dropped": dict(self.dropped),
            "final": final and not self._pending,
        }


@dataclass
class WorkerLines:
    """What the master got of one worker's lines."""

    next_seq: int = 1
    chunks: int = 0
    chunks_missed: int = 0
    received: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    final: bool = False

    @property
    def lost(self) -> int:
        """Lines sent that never arrived (in chunks missing from the sequence)."""
        return sum(max(self.sent[kind] - self.received[kind], 0) for kind in self.sent)


class Inbox:
    """The master's side: chunks in, lines to the run's files, what went missing counted."""

    def __init__(self, sinks: Mapping[str, Callable[[bytes], None]], run_id: str = "") -> None:
        self._sinks = sinks
        self._run_id = run_id
        self.workers: dict[str, WorkerLines] = {}

    def accepts(self, chunk: Mapping) -> bool:
        """A chunk of this test (not of one that ended, from a worker behind)."""
        return chunk.get("run_id", "") == self._run_id

    def receive(self, worker: str, chunk: Mapping) -> None:
        if not self.accepts(chunk):
            return
        state = self.workers.setdefault(worker, WorkerLines())
        seq = int(chunk["seq"])
        if seq < state.next_seq:
            return  # a chunk seen already (a worker that resent it): each line once
        state.chunks_missed += seq - state.next_seq
        state.next_seq = seq + 1
        state.chunks += 1
        for kind, lines in chunk["lines"].items():
            write = self._sinks.get(kind)
            for line in lines:
                if write is not None:
                    write(line)
            state.received[kind] += len(lines)
        state.sent = Counter({k: max(v, state.sent[k]) for k, v in chunk["sent"].items()})
        state.dropped = Counter(chunk["dropped"])
        state.final = state.final or bool(chunk["final"])

    def to_report(self) -> dict[str, dict]:
        return {worker: _figures(state) for worker, state in sorted(self.workers.items())}

    @staticmethod
    def empty_report() -> dict:
        """A worker that never sent a line."""
        return _figures(WorkerLines())


def _figures(state: WorkerLines) -> dict:
    return {
        "lines_received": sum(state.received.values()),
        "lines_dropped_by_worker": sum(state.dropped.values()),
        "lines_lost_in_transit": state.lost,
        "chunks": state.chunks,
        "chunks_missed": state.chunks_missed,
        "final_received": state.final,
    }
