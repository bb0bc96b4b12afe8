"""The two observers between a conversation and Locust.

``Handoff`` runs on the loop thread and passes every record to the gevent side, in
order; ``LocustObserver`` runs there and turns records into the Recorder's figures, the
live view's state and Locust's request events (failures for timeouts and errors).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from harness.conversation import (
    ConversationObserver,
    ConversationResult,
    LateReplies,
    PersonaRecord,
    TranscriptEntry,
    TurnRecord,
)
from harness.locust.loop_thread import LoopThread

if TYPE_CHECKING:
    from harness.locust.runtime import LocustRuntime


class ReplyTimeout(Exception):
    """The agent sent nothing within the scenario's first_reply_timeout."""


class ConversationFailed(Exception):
    """A conversation ended on a transport error."""


class Reconnected(Exception):
    """A turn's timing crossed a lost-and-restored connection: not a latency."""


class Unsuccessful(Exception):
    """A judged conversation did not succeed: its first failed evaluation, or why it ended."""


class BotError(Exception):
    """The bot under test failed a call the transport saw (429, an unknown method...)."""


class Handoff:
    """Loop-side observer: hands every record to the gevent side, in order."""

    def __init__(self, loop: LoopThread, target: ConversationObserver) -> None:
        self._post = loop.post
        self._target = target

    def on_message(self, entry: TranscriptEntry) -> None:
        self._post(partial(self._target.on_message, entry))

    def on_turn(self, record: TurnRecord) -> None:
        self._post(partial(self._target.on_turn, record))

    def on_late(self, record: LateReplies) -> None:
        self._post(partial(self._target.on_late, record))

    def on_persona(self, record: PersonaRecord) -> None:
        self._post(partial(self._target.on_persona, record))

    def on_end(self, result: ConversationResult) -> None:
        self._post(partial(self._target.on_end, result))


class LocustObserver:
    """Gevent-side observer: records into the Recorder and Locust's request events."""

    def __init__(self, runtime: LocustRuntime) -> None:
        self._runtime = runtime
        self._fire = runtime.environment.events.request.fire
        self.ignoring_ends = False
        """Set once the stuck conversations were counted at a stop: none is counted twice."""

    def on_message(self, entry: TranscriptEntry) -> None:
        self._runtime.recorder.on_message(entry)
        if entry.action is None:  # the live view shows messages, not "typing..."
            self._runtime.note_message(entry)

    def on_turn(self, record: TurnRecord) -> None:
        if self._runtime.stopping:
            # Finished while Locust stops every user at once: its timing is the stop's,
            # not the agent's. Counted as interrupted, like the bursts the stop cut off.
            self._runtime.recorder.on_interrupted_turn(record)
            return
        self._runtime.recorder.on_turn(record)
        burst, name = record.burst, record.scenario
        if record.reconnected:
            failure = Reconnected("the connection to the agent was lost and restored mid-turn")
            self._request("reconnect", name, 0, exception=failure)
            return
        self._runtime.record_quality(burst)
        for ms in burst.send_ms:
            self._request("send", name, ms)
        if burst.timed_out:
            timeout = self._runtime.scenarios[name].collect.first_reply_timeout
            self._request(
                "first_reply",
                name,
                self._runtime.clock.real(timeout) * 1000,
                exception=ReplyTimeout(f"no agent reply within {timeout:g} s"),
            )
            return
        if burst.first_reply_ms is not None and burst.complete_reply_ms is not None:
            self._request("first_reply", name, burst.first_reply_ms, burst.messages_in_reply)
            self._request("complete_reply", name, burst.complete_reply_ms, burst.messages_in_reply)
        for ms in burst.reply_gaps_ms:
            self._request("reply_gap", name, ms)
        if burst.first_action_ms is not None:
            self._request("first_action", name, burst.first_action_ms)

    def on_late(self, record: LateReplies) -> None:
        self._runtime.recorder.on_late(record)

    def on_persona(self, record: PersonaRecord) -> None:
        self._runtime.recorder.on_persona(record)

    def on_end(self, result: ConversationResult) -> None:
        if self.ignoring_ends:
            return
        self._runtime.recorder.on_end(result)
        self._runtime.active[result.scenario] -= 1
        judgment = result.judgment
        # A row per judged conversation, failed when unsuccessful; none for one with no
        # verdict (cut off by the run's stop, or unjudged). The message names the failed
        # evaluation or the end, never its details: Locust keeps a row per message.
        if judgment is not None and judgment.excluded is None:
            self._runtime.record_judgment(judgment)
            failure = None
            if not judgment.success:
                failed = judgment.first_failure
                why = failed.name if failed else f"ended: {result.end_reason}"
                failure = Unsuccessful(why)
            self._request(
                "conversation", result.scenario, judgment.duration_s * 1000, exception=failure
            )
        if result.error is not None and not (judgment and result.end_reason == "error"):
            # its own row: flood_wait, account_retired, error (a judged one's is above)
            kind = "conversation" if result.end_reason == "error" else result.end_reason
            self._request(kind, result.scenario, 0, exception=ConversationFailed(result.error))
        for (category, detail), count in result.bot_errors:  # a row per kind of bot mistake
            for _ in range(count):
                self._request(category, result.scenario, 0, exception=BotError(detail))

    def _request(
        self, kind: str, name: str, ms: float, length: int = 0, exception: Exception | None = None
    ) -> None:
        self._fire(
            request_type=kind,
            name=name,
            response_time=ms,
            response_length=length,
            exception=exception,
            context={},
        )
