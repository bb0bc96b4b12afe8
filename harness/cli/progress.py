"""``harness run``'s progress: a live panel on a terminal, a line per conversation in a
pipe (CI logs)."""

from __future__ import annotations

import time
from collections import Counter

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.prices import usd
from harness.records import ConversationResult
from harness.report import Recorder


def failure_reason(result: ConversationResult) -> str | None:
    """Why a conversation did not succeed (None when it did): its first failed
    evaluation, else how it ended."""
    judgment = result.judgment
    if judgment is not None and (judgment.success or judgment.excluded == "unjudged"):
        return None  # succeeded, or had no verdict: not a failure
    failed = judgment.first_failure if judgment is not None else None
    if failed is not None:
        return f"{failed.name}: {failed.detail}"
    return result.error or result.end_reason


class Progress:
    def __init__(self, total: int, console: Console) -> None:
        self.total = total
        self.console = console
        self.done = 0
        self.successes = 0
        self.failures: Counter[str] = Counter()
        self.spent_nano_usd = 0
        self._started = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._live = Live(self._panel(), console=self.console, refresh_per_second=4)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._panel())
            self._live.stop()

    def ended(self, result: ConversationResult, recorder: Recorder) -> None:
        self.done += 1
        reason = failure_reason(result)
        if reason is None:
            self.successes += 1
        else:
            self.failures[_kind(result)] += 1
        scenarios = recorder.stats.scenarios.values()
        self.spent_nano_usd = sum(stats.persona_usage.cost_nano_usd for stats in scenarios)
        if self._live is not None:
            self._live.update(self._panel())
            return
        verdict = "ok  " if reason is None else "FAIL"
        judgment = result.judgment
        outcome = f"  {judgment.outcome}" if judgment is not None else ""
        why = "" if reason is None else f"  ({reason})"
        self.console.print(
            f"[{self.done}/{self.total}] {verdict} {result.conversation_id}  "
            f"{result.turns} turns{outcome}{why}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def _panel(self) -> Table:
        elapsed = time.monotonic() - self._started
        remaining = elapsed / self.done * (self.total - self.done) if self.done else None
        table = Table.grid(padding=(0, 2))
        table.add_row("conversations", f"{self.done} / {self.total}")
        rate = f"{self.successes / self.done:.1%}" if self.done else "-"
        table.add_row("success so far", f"{rate} ({self.successes})")
        failures = ", ".join(f"{kind} {count}" for kind, count in self.failures.most_common(4))
        table.add_row("failures", failures or "-")
        left = "-" if remaining is None else f"{remaining:.0f} s"
        table.add_row("elapsed / remaining", f"{elapsed:.0f} s / {left}")
        if self.spent_nano_usd:
            table.add_row("LLM spend", f"${usd(self.spent_nano_usd):.4f}")
        return table


def _kind(result: ConversationResult) -> str:
    """A failure's kind for the tally: the evaluation that failed, or how it ended."""
    judgment = result.judgment
    failed = judgment.first_failure if judgment is not None else None
    return failed.name if failed is not None else result.end_reason
