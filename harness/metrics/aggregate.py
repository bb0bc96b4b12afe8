"""Run-wide accounting: counters and histograms per scenario, merged for totals.

Everything here is counts, maxima and minima, so two processes' figures merge exactly.
The report's shape (``to_report``) is the contract documented in the README.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.metrics.burst import BurstMeasurement
from harness.metrics.debounce import SAMPLE_LIMIT, DebounceSamples, estimate_debounce
from harness.metrics.histogram import Histogram
from harness.metrics.judging import JudgingStats
from harness.metrics.persona_usage import PersonaUsage
from harness.verdicts import Judgment

LATENCIES = ("send", "first_reply", "complete_reply", "reply_gap", "first_action")
COUNTERS = (
    "conversations",
    "conversations_interrupted",
    "bursts",
    "bursts_interrupted",
    "bursts_reconnected",
    "client_messages",
    "agent_messages",
    "timeouts",
    "late_replies",
    "premature_bursts",
    "premature_messages",
    "edits",
    "chat_actions",
    "agent_messages_untranscribed",
)

Estimate = tuple[float | None, float | None]  # debounce bracket, in seconds


@dataclass
class ScenarioStats:
    conversations: int = 0
    conversations_interrupted: int = 0
    end_reasons: Counter[str] = field(default_factory=Counter)
    bursts: int = 0
    bursts_interrupted: int = 0
    bursts_reconnected: int = 0
    client_messages: int = 0
    agent_messages: int = 0
    timeouts: int = 0
    late_replies: int = 0
    premature_bursts: int = 0
    premature_messages: int = 0
    edits: int = 0
    chat_actions: int = 0
    agent_messages_untranscribed: int = 0
    bot_errors: Counter[str] = field(default_factory=Counter)
    reply_groups_per_burst: Histogram = field(default_factory=lambda: Histogram(exact=True))
    messages_per_reply: Histogram = field(default_factory=lambda: Histogram(exact=True))
    latency_ms: dict[str, Histogram] = field(
        default_factory=lambda: {name: Histogram() for name in LATENCIES}
    )
    debounce_samples: DebounceSamples = field(default_factory=DebounceSamples)
    persona_usage: PersonaUsage = field(default_factory=PersonaUsage)
    judging: JudgingStats = field(default_factory=JudgingStats)

    def add_late(self, count: int) -> None:
        self.late_replies += count
        self.agent_messages += count

    def add_reconnected(self, burst: BurstMeasurement) -> None:
        """A burst during which the connection to the agent was restored: its messages
        count, its timing and batching (the outage's as much as the agent's) do not."""
        self.bursts_reconnected += 1
        self.client_messages += burst.client_messages
        self.agent_messages += burst.agent_messages

    def add_burst(self, burst: BurstMeasurement, sample_debounce: bool = True) -> None:
        """``sample_debounce`` False keeps the burst's debounce evidence out of the
        sample (a worker's report, once the worker's own sample is full)."""
        self.bursts += 1
        self.client_messages += burst.client_messages
        self.agent_messages += burst.agent_messages
        self.timeouts += burst.timed_out
        self.premature_bursts += burst.premature
        self.premature_messages += burst.premature_messages
        self.edits += burst.edits_in_reply
        self.chat_actions += burst.actions
        self.reply_groups_per_burst.add(burst.reply_groups)
        if not burst.timed_out:
            self.messages_per_reply.add(burst.messages_in_reply)
        latency = self.latency_ms
        for value in burst.send_ms:
            latency["send"].add(value)
        if burst.first_reply_ms is not None:
            latency["first_reply"].add(burst.first_reply_ms)
        if burst.complete_reply_ms is not None:
            latency["complete_reply"].add(burst.complete_reply_ms)
        for value in burst.reply_gaps_ms:
            latency["reply_gap"].add(value)
        if burst.first_action_ms is not None:
            latency["first_action"].add(burst.first_action_ms)
        if (
            sample_debounce
            and burst.debounce_evidence is not None
            and len(self.debounce_samples) < SAMPLE_LIMIT
        ):
            self.debounce_samples.append(burst.debounce_evidence)

    def add_conversation(
        self,
        end_reason: str,
        bursts_interrupted: int,
        bot_errors: dict[str, int] | None = None,
        judgment: Judgment | None = None,
        turns: int = 0,
        untranscribed: int = 0,
    ) -> None:
        self.conversations += 1
        self.agent_messages_untranscribed += untranscribed
        self.conversations_interrupted += end_reason == "interrupted"
        self.end_reasons[end_reason] += 1
        self.bursts_interrupted += bursts_interrupted
        if bot_errors:
            self.bot_errors.update(bot_errors)
        if judgment is not None:
            self.judging.add(judgment, turns)

    def merge(self, other: ScenarioStats, samples: bool = True) -> None:
        """Add ``other``'s figures; its debounce samples too, up to ``SAMPLE_LIMIT``,
        unless ``samples`` is False (the totals take a fair share of them instead)."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.end_reasons.update(other.end_reasons)
        self.bot_errors.update(other.bot_errors)
        self.reply_groups_per_burst.merge(other.reply_groups_per_burst)
        self.messages_per_reply.merge(other.messages_per_reply)
        for name, histogram in other.latency_ms.items():
            self.latency_ms[name].merge(histogram)
        if samples:
            room = SAMPLE_LIMIT - len(self.debounce_samples)
            self.debounce_samples.extend_from(other.debounce_samples, room)
        self.persona_usage.merge(other.persona_usage)
        self.judging.merge(other.judging)

    def to_state(self) -> dict:
        """Raw counts, exactly mergeable elsewhere (what a worker sends its master)."""
        return {
            **{name: getattr(self, name) for name in COUNTERS},
            "end_reasons": dict(self.end_reasons),
            "bot_errors": dict(self.bot_errors),
            "reply_groups_per_burst": self.reply_groups_per_burst.to_state(),
            "messages_per_reply": self.messages_per_reply.to_state(),
            "latency_ms": {name: h.to_state() for name, h in self.latency_ms.items()},
            "debounce_samples": self.debounce_samples.to_state(),
            "persona_usage": self.persona_usage.to_state(),
            "judging": self.judging.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict) -> ScenarioStats:
        return cls(
            **{name: state[name] for name in COUNTERS},
            end_reasons=Counter(state["end_reasons"]),
            bot_errors=Counter(state["bot_errors"]),
            reply_groups_per_burst=Histogram.from_state(state["reply_groups_per_burst"]),
            messages_per_reply=Histogram.from_state(state["messages_per_reply"]),
            latency_ms={n: Histogram.from_state(h) for n, h in state["latency_ms"].items()},
            debounce_samples=DebounceSamples.from_state(state["debounce_samples"]),
            persona_usage=PersonaUsage.from_state(state["persona_usage"]),
            judging=JudgingStats.from_state(state["judging"]),
        )

    def to_report(self, debounce: Estimate | None = None) -> dict:
        """The report's figures; ``debounce``, when given, is the estimate of these samples
        already made (it is the costly part)."""
        without, with_premature = debounce or estimate_debounce(self.debounce_samples)
        return {
            "conversations": self.conversations,
            "conversations_interrupted": self.conversations_interrupted,
            "end_reasons": dict(sorted(self.end_reasons.items())),
            "bursts": self.bursts,
            "bursts_interrupted": self.bursts_interrupted,
            "bursts_reconnected": self.bursts_reconnected,
            "client_messages": self.client_messages,
            "agent_messages": self.agent_messages,
            "timeouts": self.timeouts,
            "timeout_rate": _rate(self.timeouts, self.bursts),
            "late_replies": self.late_replies,
            "premature_bursts": self.premature_bursts,
            "premature_reply_rate": _rate(self.premature_bursts, self.bursts),
            "premature_messages": self.premature_messages,
            "edits": self.edits,
            "chat_actions": self.chat_actions,
            "agent_messages_untranscribed": self.agent_messages_untranscribed,
            "bot_errors": dict(sorted(self.bot_errors.items())),
            "reply_groups_per_burst": self.reply_groups_per_burst.counts(),
            "messages_per_reply": self.messages_per_reply.counts(),
            "latency_ms": {name: h.summary() for name, h in self.latency_ms.items()},
            "debounce_estimate_s": {
                "max_pause_without_premature": without,
                "min_pause_with_premature": with_premature,
                "bursts_sampled": len(self.debounce_samples),
            },
            "llm": self.persona_usage.to_report(),
            "judging": self.judging.to_report(),
        }


LIVE_ESTIMATE_GROWTH = 1.25
"""A live view reuses a debounce estimate until its samples grew by this factor."""


class RunStats:
    """Per-scenario stats of a whole run, with totals merged on demand."""

    def __init__(self) -> None:
        self.scenarios: dict[str, ScenarioStats] = {}
        self._estimates: dict[str | None, tuple[tuple[int, ...], Estimate]] = {}

    def scenario(self, name: str) -> ScenarioStats:
        stats = self.scenarios.get(name)
        if stats is None:
            stats = self.scenarios[name] = ScenarioStats()
        return stats

    def to_state(self) -> dict:
        return {name: stats.to_state() for name, stats in self.scenarios.items()}

    def merge_state(self, state: dict) -> None:
        """Add another process's figures (``to_state`` output) to these."""
        for name, scenario_state in state.items():
            self.scenario(name).merge(ScenarioStats.from_state(scenario_state))

    def totals(self) -> ScenarioStats:
        total = ScenarioStats()
        for stats in self.scenarios.values():
            total.merge(stats, samples=False)
        samples = [stats.debounce_samples for stats in self.scenarios.values()]
        total.debounce_samples = DebounceSamples.fair_share(samples)
        return total

    def to_report(self, live: bool = False) -> dict:
        """Every scenario's figures and the totals. ``live`` (the web UI, every poll) may
        reuse a debounce estimate made on somewhat fewer samples: estimating on 2,000
        bursts takes tens of milliseconds, which the process's event loops would feel."""
        totals = self.totals()
        return {
            "scenarios": {
                name: stats.to_report(self._estimate(name, stats, live))
                for name, stats in sorted(self.scenarios.items())
            },
            "totals": totals.to_report(self._estimate(None, totals, live)),
        }

    def _estimate(self, key: str | None, stats: ScenarioStats, live: bool) -> Estimate:
        """The debounce estimate of ``stats`` (``key`` None: the totals), made again only
        when its samples changed; in a live view, only when they grew enough. Samples are
        only ever appended, so the sample counts behind them tell whether they changed."""
        if key is None:  # the totals hold a fair share of each scenario's samples
            version = tuple(len(s.debounce_samples) for s in self.scenarios.values())
        else:
            version = (len(stats.debounce_samples),)
        made = self._estimates.get(key)
        if made is not None:
            made_version, estimate = made
            grown = sum(version) >= sum(made_version) * LIVE_ESTIMATE_GROWTH
            if made_version == version or (live and not grown):
                return estimate
        estimate = estimate_debounce(stats.debounce_samples)
        self._estimates[key] = (version, estimate)
        return estimate


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
