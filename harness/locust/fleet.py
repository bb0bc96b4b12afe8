"""One fleet, one report: workers' lines and last figures, over Locust's messages.

Workers stream their transcript and verdict lines to the master (``harness.fleet.stream``
numbers the chunks, so the master counts what never arrived). At the stop, the master
asks every live worker to finish (``chatstorm_finish``): the worker winds its
conversations down, concludes, sends what lines it still holds and then its last figures
with its last chunk (``chatstorm_final``). The master waits for every live worker, within
a bound, instead of Locust's half second after "quit"; a worker that never answers is
named in the report and the summary.

On the master, message handlers only queue what arrived; one greenlet writes it, in
arrival order, so a big chunk never holds up Locust's heartbeats.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import gevent
from gevent.event import Event
from gevent.lock import Semaphore
from locust.exception import RPCError
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from harness.fleet.stream import Inbox, Outbox

log = logging.getLogger("chatstorm")
LINES = "chatstorm_lines"  # worker -> master: a chunk of lines
FINISH = "chatstorm_finish"  # master -> workers: conclude now, send the rest
FINAL = "chatstorm_final"  # worker -> master: the last chunk and the last figures
SEND_EVERY_S = 0.5
DRAIN_EVERY_S = 0.05


class WorkerLink:
    """A worker's side: its outbox, sent every half second by one greenlet at a time (a
    send that waits on a full socket yields: a second sender would overtake it); its last
    figures when the master asks, or when the worker itself is told to quit."""

    def __init__(
        self,
        runner: WorkerRunner,
        concluded: Event,
        take_figures: Callable[[], dict],
        final_wait_s: float,
    ) -> None:
        self.runner = runner
        self.outbox = Outbox(on_first_drop=self._say_dropping)
        self._concluded = concluded
        self._take_figures = take_figures
        self._final_wait_s = final_wait_s
        self._sending = Semaphore()
        self._final_sent = True  # no test yet: nothing to send

        self._said_unreachable = False
        self._sender = gevent.spawn(self._send_forever)
        runner.register_message(FINISH, self._finish, concurrent=True)

    def restart(self, run_id: str) -> None:
        """A new test: a new numbering, nothing of the last test's lines."""
        self.outbox = Outbox(run_id=run_id, on_first_drop=self._say_dropping)
        self._final_sent = False

    def _say_dropping(self) -> None:
        log.warning(
            "chatstorm: worker %s cannot send its transcript lines as fast as it makes "
            "them: it drops lines from now on (counted in the report; figures are kept)",
            self.runner.client_id,
        )

    def _send_forever(self) -> None:
        while True:
            gevent.sleep(SEND_EVERY_S)
            self.send_pending()

    def send_pending(self, final: dict | None = None) -> None:
        """Every pending chunk, in order, then ``final`` (the last figures) when given. A
        master out of reach costs the lines (counted as lost by the master), never the
        worker."""
        with self._sending:
            try:
                while (chunk := self.outbox.take_chunk()) is not None:
                    self.runner.send_message(LINES, chunk)
                if final is not None:
                    final["chunk"] = self.outbox.take_chunk(final=True)
                    self.runner.send_message(FINAL, final)
            except RPCError as exc:
                if not self._said_unreachable:
                    self._said_unreachable = True
                    log.warning("chatstorm: cannot send transcript lines to the master: %s", exc)

    def finish(self) -> None:
        """Stop if still running (which winds down and concludes), then the rest of the
        lines and the last figures, once per test (none before the first)."""
        if self._final_sent:
            return
        if self.runner.state in (STATE_RUNNING, STATE_SPAWNING):
            self.runner.stop()
        if not self._concluded.wait(self._final_wait_s):
            log.warning("chatstorm: this worker had not concluded when its master asked")
        self._final_sent = True
        self.send_pending(final={"figures": self._take_figures()})

    def _finish(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        self.finish()

    def close(self) -> None:
        self._sender.kill(block=False)


class MasterLink:
    """The master's side: chunks into the run's files, the workers' last figures merged,
    and who never sent them."""

    def __init__(
        self,
        runner: MasterRunner,
        sinks: Mapping[str, Callable[[bytes], None]],
        merge_figures: Callable[[str, dict], None],
    ) -> None:
        self.runner = runner
        self.inbox = Inbox(sinks)
        self.finished: set[str] = set()
        self.unanswered: list[str] = []
        self.lost: list[str] = []
        self.connected: set[str] = set()
        """Every worker that ever connected (one killed before it said anything too)."""
        self._merge_figures = merge_figures
        self._arrived: deque[tuple[str, str, Mapping]] = deque()
        self._writer = gevent.spawn(self._write_forever)
        runner.register_message(LINES, self._queue_lines)
        runner.register_message(FINAL, self._queue_final)
        runner.environment.events.worker_connect.add_listener(self._connected)

    def _connected(self, client_id: str, **_kwargs: Any) -> None:
        self.connected.add(client_id)

    def replace_sinks(self, sinks: Mapping[str, Callable[[bytes], None]], run_id: str) -> None:
        """A new test: its files, and nothing of the last test's counts or lines."""
        self.drain()
        self.inbox = Inbox(sinks, run_id)
        self.finished.clear()
        self.unanswered, self.lost = [], []
        self.connected = {c.id for c in self.runner.clients.all}  # this test's, from now

    def _queue_lines(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        self._arrived.append((msg.node_id, LINES, msg.data))

    def _queue_final(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        self._arrived.append((msg.node_id, FINAL, msg.data))

    def _write_forever(self) -> None:
        while True:
            gevent.sleep(DRAIN_EVERY_S)
            try:
                self.drain()
            except (OSError, KeyError, TypeError, ValueError) as exc:  # one bad message
                log.warning("chatstorm: a worker's lines could not be written: %r", exc)

    def drain(self) -> None:
        """Write and merge what has arrived, in arrival order."""
        while self._arrived:
            worker, kind, data = self._arrived.popleft()
            if kind == LINES:
                self.inbox.receive(worker, data)
                continue
            if not self.inbox.accepts(data["chunk"]):
                continue  # the last figures of a test that has ended
            self.inbox.receive(worker, data["chunk"])
            self._merge_figures(worker, data["figures"])
            self.finished.add(worker)

    def collect_finals(self, within_s: float, known: set[str]) -> None:
        """Ask every live worker for its last lines and figures; wait for them, within
        ``within_s``. Workers ``known`` to have taken part (they reported) but gone now
        (killed, cut off: missing, or already forgotten by Locust) are named as lost."""
        clients = self.runner.clients
        asked = {c.id for c in clients.all if c.state != STATE_MISSING}
        for worker in asked:
            self.runner.send_message(FINISH, None, client_id=worker)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            self.drain()
            if asked <= self.finished | self._gone(asked):
                break
            gevent.sleep(DRAIN_EVERY_S)
        self.drain()
        alive = asked - self._gone(asked)
        everyone = known | asked | self.connected | self.inbox.workers.keys()
        self.lost = sorted(everyone - self.finished - alive)
        self.unanswered = sorted(alive - self.finished)
        for worker in self.unanswered:
            log.warning(
                "chatstorm: worker %s did not send its last figures within %g s: what it "
                "recorded since its last report is missing from the report",
                worker,
                within_s,
            )
        for worker in self.lost:
            log.warning(
                "chatstorm: worker %s was lost during the run: the report counts its "
                "conversations up to its last report",
                worker,
            )

    def _gone(self, workers: set[str]) -> set[str]:
        """Those of ``workers`` whose heartbeat stopped (or whom Locust dropped since)."""
        alive = {c.id for c in self.runner.clients.all if c.state != STATE_MISSING}
        return workers - alive

    def to_report(self) -> dict:
        workers = self.inbox.to_report()
        status = {w: "finished" for w in self.finished}
        status.update({w: "unanswered" for w in self.unanswered})
        status.update({w: "lost" for w in self.lost})
        for worker in status.keys() - workers.keys():
            workers[worker] = self.inbox.empty_report()
        return {
            "workers": {w: {"status": status.get(w, "running"), **f} for w, f in workers.items()},
            "unanswered": self.unanswered,
            "lost": self.lost,
            "lines_missing": sum(
                f["lines_dropped_by_worker"] + f["lines_lost_in_transit"] for f in workers.values()
            ),
        }

    def close(self) -> None:
        self.drain()
        self._writer.kill(block=False)
