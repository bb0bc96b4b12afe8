"""The conversation engine: plays one scenario against one session, measuring as it goes.

For each turn of the pattern: think, get the burst from the persona, send it with human
pauses, then collect the reply: wait up to ``first_reply_timeout`` (from the last
message's acknowledgement) for a first agent message, then keep collecting until
``quiet_window`` of silence or ``max_collect`` after the last message. Agent messages
that arrive after the collection closed and before the next burst's first message are
that turn's late replies. A turn is reported the moment its collection closes; its late
replies, if any, when the next burst starts or the conversation ends.

When the run stops mid-turn (cancellation) or ``total_timeout`` strikes, the turn in
flight is counted as interrupted: never as a burst with missing replies or a timeout.

The persona is asked for its burst as soon as the previous reply is in, then the think
time passes: an LLM persona's answer is generated before, not during, the human pause.
A persona may bring its own timing (a recording's) and may end the conversation
(``persona_ended``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from harness.clock import Clock
from harness.judging.judge import ConversationJudge
from harness.metrics.burst import measure_burst
from harness.metrics.persona_usage import PersonaUsage
from harness.persona.base import Burst, BurstRequest, PersonaEngine
from harness.persona.factory import create_persona
from harness.records import (
    TRANSCRIBED_PER_TURN,
    ConversationObserver,
    ConversationResult,
    EndReason,
    LateReplies,
    PersonaRecord,
    Role,
    TranscriptEntry,
    TurnRecord,
)
from harness.scenario.models import Scenario
from harness.scenario.pattern import Turn, iter_turns
from harness.transport.base import (
    AgentMessage,
    SendTimeout,
    SentMessage,
    Session,
    Transport,
    TransportError,
)
from harness.transport.traffic import TRAFFIC
from harness.verdicts import Judgment

if TYPE_CHECKING:
    from harness.persona.services import PersonaServices

JUDGING_GRACE_S = 2.5
"""How long a stopped run waits for the LLM judge's final answers on a conversation that
had ended (real seconds; within the bounds the runtime gives cancelled conversations)."""


@dataclass
class _Burst:
    """The turn in flight: what was sent when, and what arrived since its first message."""

    turn: int
    calls: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    arrivals: list[AgentMessage] = field(default_factory=list)


class Conversation:
    """One simulated conversation. ``run`` returns how it ended; records go to the observer.

    Every agent message is routed once, by its arrival time, by ``_accept``: before the
    current burst's first message it is a late reply of the previous turn, after it part
    of the burst. Transcript lines are emitted in time order, at the latest when a turn ends.
    """

    def __init__(
        self,
        conversation_id: str,
        scenario: Scenario,
        session: Session,
        clock: Clock,
        observer: ConversationObserver,
        seed: int | str = 0,
        persona: PersonaEngine | None = None,
        services: PersonaServices | None = None,
        judge_all: bool = False,
    ) -> None:
        """``judge_all``: judge the conversation even if its scenario declares nothing to
        judge it by (``harness run``: every conversation passes or fails)."""
        self.id = conversation_id
        self.scenario = scenario
        self.session = session
        self.clock = clock
        self.observer = observer
        self._timing = random.Random(f"{seed}:{scenario.name}:{conversation_id}:timing")
        self.persona = persona or create_persona(
            scenario,
            random.Random(f"{seed}:{scenario.name}:{conversation_id}:persona"),
            services,
        )
        self._history: list[tuple[str, str]] = []
        self._entries: list[TranscriptEntry] = []
        self._burst: _Burst | None = None
        self._late_turn: int | None = None
        self._late_count = 0
        self._agent_lines: Counter[int] = Counter()  # agent messages kept whole, by turn
        self._untranscribed = 0
        self._turns = 0
        self.judge: ConversationJudge | None = None
        if _is_judged(scenario, judge_all):
            slots = getattr(self.persona, "slots", {})
            llm = services.judges.get(scenario.name) if services is not None else None
            # Not a bound method: the judge holding the conversation would make each one
            # a reference cycle, freed only by the garbage collector, which the runtime
            # keeps rare (a soak grew 770 MB an hour).
            spent = functools.partial(_count_judge_spending, observer, self.id, scenario.name)
            self.judge = ConversationJudge(scenario, slots, llm, spent)
        self._started = Clock.now()

    async def run(self) -> ConversationResult:
        reason: EndReason = "max_turns"
        error: str | None = None
        outage: str | None = None
        try:
            async with asyncio.timeout(self.clock.real(self.scenario.total_timeout)):
                for index, turn in zip(
                    range(self.scenario.max_turns), iter_turns(self.scenario.pattern), strict=False
                ):
                    last = index == self.scenario.max_turns - 1
                    ended = await self._play_turn(index, turn)
                    if ended is not None and not (last and ended == "persona_ended"):
                        reason = ended  # the persona, or a termination condition
                        break
        except TimeoutError:
            reason = "total_timeout"
        except asyncio.CancelledError:
            self._end_now("interrupted")
            raise
        except TransportError as exc:  # named by the transport: flood_wait, ...
            reason, error, outage = exc.category, str(exc), exc.peer
        except Exception as exc:  # a failing transport or persona ends this conversation only
            reason, error = "error", f"{type(exc).__name__}: {exc}"
        judgment, stopped = await self._verdict(reason)
        result = self._report(reason, error, outage, judgment)
        if stopped:
            raise asyncio.CancelledError
        return result

    async def _verdict(self, reason: EndReason) -> tuple[Judgment | None, bool]:
        """The judge's verdict (None for a scenario not judged), and whether the run was
        stopped meanwhile: then the judge still gets ``JUDGING_GRACE_S`` to answer what it
        was asked, before what is left open is skipped."""
        self._wrap_up()
        if self.judge is None:
            return None, False
        duration = Clock.now() - self._started
        judging = asyncio.ensure_future(self.judge.conclude(reason, self._turns, duration))
        stopped = False
        try:
            await asyncio.shield(judging)
        except asyncio.CancelledError:
            stopped = True
            with contextlib.suppress(asyncio.CancelledError):  # stopped again: no more grace
                await asyncio.wait([judging], timeout=JUDGING_GRACE_S)
        except Exception:  # a judge that fails must not lose the conversation: below
            pass
        if judging.done() and not judging.cancelled() and judging.exception() is None:
            return judging.result(), stopped
        judging.cancel()
        return self._judged_now(reason), stopped

    def _end_now(
        self, reason: EndReason, error: str | None = None, outage: str | None = None
    ) -> ConversationResult:
        """Report at once (the conversation's task is cancelled): LLM judgments skipped."""
        self._wrap_up()
        return self._report(reason, error, outage, self._judged_now(reason))

    def _judged_now(self, reason: EndReason) -> Judgment | None:
        """The verdict without waiting for the LLM judge (None: not judged)."""
        if self.judge is None:
            return None
        return self.judge.conclude_now(reason, self._turns, Clock.now() - self._started)

    def _wrap_up(self) -> None:
        """Every message that arrived is routed, the late replies reported, the transcript
        emitted (to the judge too)."""
        self._pull()
        self._close_late_window()
        self._flush_transcript()

    def _report(
        self, reason: EndReason, error: str | None, outage: str | None, judgment: Judgment | None
    ) -> ConversationResult:
        result = ConversationResult(
            self.id,
            self.scenario.name,
            self._turns,
            reason,
            int(self._burst is not None),
            error,
            tuple(self.session.inbox.bot_errors.items()),
            outage,
            judgment,
            self._untranscribed,
        )
        self.observer.on_end(result)
        return result

    async def _play_turn(self, index: int, turn: Turn) -> EndReason | None:
        """Play one turn; why the conversation ends after it (the persona ended it, or a
        termination condition holds), or None."""
        self._pull()
        self._flush_transcript()  # the persona sees every reply that has arrived
        request = BurstRequest(
            turn=index,
            thoughts=turn.thoughts,
            is_last_turn=index == self.scenario.max_turns - 1,
            history=self._history,
        )
        move = await self.persona.next_burst(request)
        if move.usage:
            self.observer.on_persona(PersonaRecord(self.id, self.scenario.name, index, move.usage))
        if not move.messages:
            return "persona_ended"
        if index:
            await asyncio.sleep(self._think_time(move))
        burst = self._burst = _Burst(index)
        reconnects = self.session.reconnects
        for position, text in enumerate(move.messages):
            pause = self._pause(move, position, text)
            if position or pause:
                await asyncio.sleep(pause)
            sent = await self._send(text)
            burst.calls.append(sent.t_call)
            burst.acks.append(sent.t_ack)
            self._record("client", index, text, sent.t_ack)
            self._pull()
            if position == 0:
                self._close_late_window()
        timed_out = await self._collect(burst)
        # Sorted: a transport that stamps at the source may hand over concurrent sends
        # slightly out of order.
        arrivals = sorted(m.t_received for m in burst.arrivals if m.is_new)
        edits = [m.t_received for m in burst.arrivals if m.edit]
        actions = sorted(m.t_received for m in burst.arrivals if m.action is not None)
        quiet = self.clock.real(self.scenario.collect.quiet_window)
        measured = measure_burst(
            burst.calls, burst.acks, arrivals, timed_out, quiet, edits, actions
        )
        self._burst = None
        self._late_turn = index
        self._turns += 1
        self._flush_transcript()
        reconnected = self.session.reconnects != reconnects
        self.observer.on_turn(TurnRecord(self.id, self.scenario.name, index, measured, reconnected))
        held = None if self.judge is None else await self.judge.after_turn(index, measured)
        return "persona_ended" if move.end_conversation else held

    async def _send(self, text: str) -> SentMessage:
        """Send one message; a transport that does not acknowledge it within
        ``send_timeout`` (a silent network) ends the conversation as ``send_timeout``."""
        limit = self.scenario.collect.send_timeout
        TRAFFIC.waiting += 1
        try:
            async with asyncio.timeout(self.clock.real(limit)):
                sent = await self.session.send(text)
            TRAFFIC.last = sent.t_ack
            return sent
        except TimeoutError:
            raise SendTimeout(
                f"the transport did not acknowledge a send within {limit:g} s"
            ) from None
        finally:
            TRAFFIC.waiting -= 1

    def _think_time(self, move: Burst) -> float:
        """Real seconds before a burst: the persona's own, or drawn from the scenario."""
        if move.think_time is not None:
            return self.clock.real(move.think_time)
        return self.clock.draw(self._timing, self.scenario.timing.think_time)

    def _pause(self, move: Burst, position: int, text: str) -> float:
        """Real seconds before message ``position`` of a burst: the persona's own pause,
        or one drawn from the scenario plus, with ``timing.typing``, the time to type it."""
        if move.pauses is not None:
            return self.clock.real(move.pauses[position - 1]) if position else 0.0
        timing = self.scenario.timing
        pause = 0.0
        if position:
            span = timing.inter_message_delays[(position - 1) % len(timing.inter_message_delays)]
            pause = self.clock.draw(self._timing, span)
        if timing.typing:
            per_minute = self.scenario.persona.traits.typing_chars_per_min
            pause += self.clock.real(60 * len(text) / per_minute)
        return pause

    async def _collect(self, burst: _Burst) -> bool:
        """Collect the reply into the burst; True when nothing came in time."""
        TRAFFIC.waiting += 1
        try:
            return await self._collect_into(burst)
        finally:
            TRAFFIC.waiting -= 1

    async def _collect_into(self, burst: _Burst) -> bool:
        collect = self.scenario.collect
        last_sent = burst.acks[-1]
        hard_end = last_sent + self.clock.real(collect.max_collect)
        first_by = min(last_sent + self.clock.real(collect.first_reply_timeout), hard_end)
        # Edits and chat actions (typing) are part of the reply, but only a new message
        # starts it.
        while not any(m.t_received >= last_sent and m.is_new for m in burst.arrivals):
            if not await self._take(first_by) and not await self._recover(first_by):
                return True
        quiet = self.clock.real(collect.quiet_window)
        while True:
            until = min(burst.arrivals[-1].t_received + quiet, hard_end)
            if await self._take(until):
                continue
            if not await self._recover(until):
                return False

    async def _recover(self, window_end: float) -> bool:
        """The window closing at ``window_end`` asks the transport for messages stuck on
        the way. Those it recovers belong to this window; anything else waiting stays for
        the late check. A transport that does not answer the catch-up within
        ``send_timeout`` (a silent network) recovers nothing."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.clock.real(self.scenario.collect.send_timeout)):
                await self.session.catch_up(window_end)
        inbox = self.session.inbox
        waiting = inbox.drain()
        for message in reversed(waiting):
            if not message.recovered:
                inbox.unget(message)
        recovered = [message for message in waiting if message.recovered]
        for message in recovered:
            self._accept(message)
        return bool(recovered)

    async def _take(self, until: float) -> bool:
        """Wait for one message that arrives by ``until``; leave a later one in the inbox."""
        inbox = self.session.inbox
        message = await inbox.get(until - Clock.now())
        if message is None:
            return False
        if message.t_received > until:
            inbox.unget(message)
            return False
        self._accept(message)
        return True

    def _pull(self) -> None:
        """Accept every message that has arrived, without waiting."""
        for message in self.session.inbox.drain():
            self._accept(message)

    def _accept(self, message: AgentMessage) -> None:
        burst = self._burst
        in_burst = burst is not None and burst.acks and message.t_received >= burst.acks[0]
        if in_burst:
            turn = burst.turn
        else:
            self._late_count += self._late_turn is not None and message.is_new
            turn = self._late_turn if self._late_turn is not None else 0
        kept = self._agent_lines[turn] < TRANSCRIBED_PER_TURN
        if kept:
            self._agent_lines[turn] += 1
            self._record(
                "agent", turn, message.text, message.t_received, message.edit, message.action
            )
        else:  # counted and timed, its text let go
            self._untranscribed += 1
            message = replace(message, text="")
        if in_burst:
            burst.arrivals.append(message)

    def _close_late_window(self) -> None:
        """The previous turn's late replies are all in: report them."""
        if self._late_turn is not None and self._late_count:
            record = LateReplies(self.id, self.scenario.name, self._late_turn, self._late_count)
            self.observer.on_late(record)
        self._late_turn, self._late_count = None, 0

    def _record(
        self,
        role: Role,
        turn: int,
        text: str,
        t: float,
        edit: bool = False,
        action: str | None = None,
    ) -> None:
        persona = self.scenario.persona.name
        self._entries.append(
            TranscriptEntry(self.id, self.scenario.name, persona, turn, role, text, t, edit, action)
        )

    def _flush_transcript(self) -> None:
        """Emit the recorded lines in time order, into the transcript and the history."""
        self._entries.sort(key=lambda entry: entry.t)
        for entry in self._entries:
            if entry.action is None:  # the persona reads messages, not "typing..."
                self._history.append((entry.role, entry.text))
            if self.judge is not None:
                self.judge.add(entry)
            self.observer.on_message(entry)
        self._entries.clear()


def _count_judge_spending(
    observer: ConversationObserver,
    conversation_id: str,
    scenario: str,
    turn: int,
    usage: PersonaUsage,
) -> None:
    """The LLM judge's cost counts with the personas' (one budget, one account)."""
    observer.on_persona(PersonaRecord(conversation_id, scenario, turn, usage))


async def run_conversation(
    transport: Transport,
    scenario: Scenario,
    conversation_id: str,
    clock: Clock,
    observer: ConversationObserver,
    seed: int | str = 0,
    services: PersonaServices | None = None,
    judge_all: bool = False,
) -> ConversationResult:
    """Open a session, play the conversation, always close the session. A session that
    cannot be opened (the peer is down, Redis is) ends the conversation before its first
    turn, with the failure's category, as an outage of what could not be reached (judged,
    when it would have been: unsuccessful, nobody's fault)."""
    try:
        session = await transport.open(conversation_id, scenario)
    except asyncio.CancelledError:  # the run stopped while it waited for an account
        observer.on_end(ConversationResult(conversation_id, scenario.name, 0, "interrupted", 0))
        raise
    except Exception as exc:
        category = getattr(exc, "category", "error")
        error = str(exc) if category != "error" else f"{type(exc).__name__}: {exc}"
        # A failure that names its peer says whether it is an outage (None: one account's
        # trouble, not Telegram's); any other is the peer's, as far as the harness can tell.
        outage = getattr(exc, "peer", transport.peer)
        judgment = None
        if _is_judged(scenario, judge_all):
            judgment = ConversationJudge(scenario, {}).conclude_now(category, 0, 0.0)
        result = ConversationResult(
            conversation_id, scenario.name, 0, category, 0, error, (), outage, judgment
        )
        observer.on_end(result)
        return result
    try:
        conversation = Conversation(
            conversation_id,
            scenario,
            session,
            clock,
            observer,
            seed,
            services=services,
            judge_all=judge_all,
        )
        return await conversation.run()
    finally:
        await session.close()


def _is_judged(scenario: Scenario, judge_all: bool) -> bool:
    """Whether the conversation gets a verdict: its scenario declares criteria, or the
    run judges every conversation (``harness run``)."""
    return scenario.judged or judge_all
