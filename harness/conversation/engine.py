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
"""

from __future__ import annotations

import asyncio
import random

from harness.clock import Clock
from harness.conversation.records import (
    ConversationObserver,
    ConversationResult,
    EndReason,
    LateReplies,
    TranscriptEntry,
    TurnRecord,
)
from harness.metrics.burst import measure_burst
from harness.persona import BurstRequest, PersonaEngine, create_persona
from harness.scenario.models import Scenario
from harness.scenario.pattern import Turn, iter_turns
from harness.transport.base import AgentMessage, Session, Transport


class Conversation:
    """One simulated conversation. ``run`` returns how it ended; records go to the observer."""

    def __init__(
        self,
        conversation_id: str,
        scenario: Scenario,
        session: Session,
        clock: Clock,
        observer: ConversationObserver,
        seed: int | str = 0,
        persona: PersonaEngine | None = None,
    ) -> None:
        self.id = conversation_id
        self.scenario = scenario
        self.session = session
        self.clock = clock
        self.observer = observer
        self._timing = random.Random(f"{seed}:{scenario.name}:{conversation_id}:timing")
        self.persona = persona or create_persona(
            scenario.persona, random.Random(f"{seed}:{scenario.name}:{conversation_id}:persona")
        )
        self._history: list[tuple[str, str]] = []
        self._late_window_turn: int | None = None
        self._turns = 0

    async def run(self) -> ConversationResult:
        reason: EndReason = "max_turns"
        in_flight = False
        error: str | None = None
        try:
            async with asyncio.timeout(self.clock.real(self.scenario.total_timeout)):
                for index, turn in zip(
                    range(self.scenario.max_turns), iter_turns(self.scenario.pattern), strict=False
                ):
                    if index:
                        await asyncio.sleep(
                            self.clock.draw(self._timing, self.scenario.timing.think_time)
                        )
                    in_flight = True
                    await self._play_turn(index, turn)
                    in_flight = False
        except TimeoutError:
            reason = "total_timeout"
        except asyncio.CancelledError:
            reason = "interrupted"
            self._finish(reason, in_flight, None)
            raise
        except Exception as exc:  # a transport failure ends this conversation, not the run
            reason, error = "transport_error", f"{type(exc).__name__}: {exc}"
        return self._finish(reason, in_flight, error)

    def _finish(self, reason: EndReason, in_flight: bool, error: str | None) -> ConversationResult:
        self._close_late_window(self.session.inbox.drain(), before=None)
        result = ConversationResult(
            self.id, self.scenario.name, self._turns, reason, int(in_flight), error
        )
        self.observer.on_end(result)
        return result

    async def _play_turn(self, index: int, turn: Turn) -> None:
        request = BurstRequest(
            turn=index,
            thoughts=turn.thoughts,
            is_last_turn=index == self.scenario.max_turns - 1,
            history=tuple(self._history),
        )
        texts = await self.persona.next_burst(request)
        if not texts:
            raise ValueError(f"persona of {self.scenario.name!r} produced an empty burst")
        calls: list[float] = []
        acks: list[float] = []
        arrivals: list[AgentMessage] = []
        delays = self.scenario.timing.inter_message_delays
        for position, text in enumerate(texts):
            if position:
                pause = delays[(position - 1) % len(delays)]
                await asyncio.sleep(self.clock.draw(self._timing, pause))
            sent = await self.session.send(text)
            calls.append(sent.t_call)
            acks.append(sent.t_ack)
            if position == 0:
                waiting = self.session.inbox.drain()
                self._close_late_window(waiting, before=sent.t_ack)
                arrivals.extend(m for m in waiting if m.t_received >= sent.t_ack)
            self._record("client", index, text, sent.t_ack)
        timed_out = await self._collect(acks[-1], arrivals)
        for message in arrivals:
            self._record("agent", index, message.text, message.t_received)
        burst = measure_burst(calls, acks, [m.t_received for m in arrivals], timed_out)
        self.observer.on_turn(TurnRecord(self.id, self.scenario.name, index, burst))
        self._late_window_turn = index
        self._turns += 1

    async def _collect(self, last_sent: float, arrivals: list[AgentMessage]) -> bool:
        """Collect the reply into ``arrivals``; True when nothing came in time."""
        collect = self.scenario.collect
        inbox = self.session.inbox
        arrivals.extend(inbox.drain())
        hard_end = last_sent + self.clock.real(collect.max_collect)
        if not any(m.t_received >= last_sent for m in arrivals):
            first_by = min(last_sent + self.clock.real(collect.first_reply_timeout), hard_end)
            if not await self._take(first_by, arrivals):
                return True
        quiet = self.clock.real(collect.quiet_window)
        while await self._take(min(arrivals[-1].t_received + quiet, hard_end), arrivals):
            pass
        return False

    async def _take(self, until: float, arrivals: list[AgentMessage]) -> bool:
        """Wait for one message that arrives by ``until``; leave a later one in the inbox."""
        inbox = self.session.inbox
        message = await inbox.get(until - Clock.now())
        if message is None:
            return False
        if message.t_received > until:
            inbox.unget(message)
            return False
        arrivals.append(message)
        return True

    def _close_late_window(self, waiting: list[AgentMessage], before: float | None) -> None:
        """Messages that arrived before ``before`` (all, when None) are the last turn's late
        replies."""
        turn, self._late_window_turn = self._late_window_turn, None
        late = [m for m in waiting if before is None or m.t_received < before]
        for message in late:
            self._record("agent", turn or 0, message.text, message.t_received)
        if late and turn is not None:
            self.observer.on_late(LateReplies(self.id, self.scenario.name, turn, len(late)))

    def _record(self, role: str, turn: int, text: str, t: float) -> None:
        self._history.append((role, text))
        self.observer.on_message(
            TranscriptEntry(
                self.id, self.scenario.name, self.scenario.persona.name, turn, role, text, t
            )  # type: ignore[arg-type]
        )


async def run_conversation(
    transport: Transport,
    scenario: Scenario,
    conversation_id: str,
    clock: Clock,
    observer: ConversationObserver,
    seed: int | str = 0,
) -> ConversationResult:
    """Open a session, play the conversation, always close the session."""
    session = await transport.open(conversation_id, scenario)
    try:
        return await Conversation(conversation_id, scenario, session, clock, observer, seed).run()
    finally:
        await session.close()
