"""The batching summary printed after a run: one row per scenario, plus totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from harness.metrics.histogram import mean_of_counts
from harness.records import TRANSCRIBED_PER_TURN
from harness.report.model import DebounceEstimate, EvaluationFigures, LlmUsage, Report
from harness.report.slo import SloResult


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def percent(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:.1%}"


def mean(counts: dict[str, int], missing: str = "-") -> str:
    value = mean_of_counts(counts)
    return missing if value is None else f"{value:.2f}"


def bracket(debounce: DebounceEstimate, missing: str = "-") -> str:
    """The debounce estimate as ``low .. high`` seconds."""
    low, high = debounce.max_pause_without_premature, debounce.min_pause_with_premature
    if low is None and high is None and not missing:
        return ""
    low_text = missing if low is None else f"{low:.2f}"
    high_text = missing if high is None else f"{high:.2f}"
    return f"{low_text} .. {high_text}"


def llm_cells(llm: LlmUsage) -> dict[str, str]:
    """A scenario's LLM figures as the UI and the summary show them (blank without any)."""
    fallbacks = llm.fallback_failed + llm.fallback_budget
    if not (llm.requests or llm.cache_hits or fallbacks or llm.replayed_bursts):
        return {"llm_requests": "", "llm_tokens": "", "llm_cost": "", "llm_fallbacks": ""}
    tokens = llm.tokens
    return {
        "llm_requests": f"{llm.requests} ({llm.cache_hits})",
        "llm_tokens": f"{tokens.input + tokens.cache_write + tokens.cache_read:,} / "
        f"{tokens.output:,}",
        "llm_cost": f"{llm.cost_usd:.4f}",
        "llm_fallbacks": f"{fallbacks} (failed {llm.fallback_failed}, budget "
        f"{llm.fallback_budget})",
    }


def llm_table(report: Report) -> Table | None:
    """What LLM personas cost, per scenario; None when no persona used an LLM or replay."""
    rows = [
        (name, figures.llm)
        for name, figures in [*report.scenarios.items(), ("Total", report.totals)]
        if llm_cells(figures.llm)["llm_requests"]
    ]
    if not rows:
        return None
    table = Table(
        title="chatstorm: LLM personas (Failed, Budget: turns played scripted instead)",
        title_justify="left",
    )
    for header in (
        "Scenario",
        "Requests",
        "Cached",
        "Retries",
        "In tok",
        "Cache wr",
        "Cache rd",
        "Out tok",
        "Cost $",
        "Failed",
        "Budget",
        "Bad out",
        "Replayed",
    ):
        table.add_column(header, justify="left" if header == "Scenario" else "right")
    for name, llm in rows:
        tokens = llm.tokens
        table.add_row(
            name,
            *(
                f"{value:,}"
                for value in (
                    llm.requests,
                    llm.cache_hits,
                    llm.retries,
                    tokens.input,
                    tokens.cache_write,
                    tokens.cache_read,
                    tokens.output,
                )
            ),
            f"{llm.cost_usd:.4f}",
            str(llm.fallback_failed),
            str(llm.fallback_budget),
            str(llm.fallback_bad_output),
            str(llm.replayed_bursts),
        )
    return table


def batching_table(report: Report) -> Table:
    """One row per scenario and the totals. The totals' debounce bracket is shown only for a
    single scenario: across scenarios it mixes agents with different windows (the mock
    transport gives each scenario its own), and a bracket like "0.66 .. 0.11" misleads."""
    table = Table(title="chatstorm: conversations and batching", title_justify="left")
    for header in (
        "Scenario",
        "Conv",
        "Interr.",
        "Bursts",
        "Premature",
        "Groups/burst",
        "Msgs/reply",
        "Timeouts",
        "Late",
        "First p50/p95 ms",
        "Complete p95 ms",
        "Debounce est. s",
    ):
        table.add_column(header, justify="left" if header == "Scenario" else "right")
    rows = [*list(report.scenarios.items()), ("Total", report.totals)]
    mixed = len(report.scenarios) > 1
    for name, figures in rows:
        first = figures.latency_ms["first_reply"]
        complete = figures.latency_ms["complete_reply"]
        table.add_row(
            name,
            str(figures.conversations),
            str(figures.conversations_interrupted),
            str(figures.bursts),
            percent(figures.premature_reply_rate),
            mean(figures.reply_groups_per_burst),
            mean(figures.messages_per_reply),
            f"{figures.timeouts} ({percent(figures.timeout_rate)})",
            str(figures.late_replies),
            f"{_ms(first.p50)} / {_ms(first.p95)}",
            _ms(complete.p95),
            "per scenario" if mixed and name == "Total" else bracket(figures.debounce_estimate_s),
            end_section=name == rows[-2][0] if len(rows) > 1 else False,
        )
    return table


def judging_table(report: Report) -> Table | None:
    """Judged scenarios: success, outcomes, the evaluation that fails most, and success by
    personality; None when no scenario was judged."""
    rows = [(name, f.judging) for name, f in report.scenarios.items() if f.judging is not None]
    if not rows:
        return None
    table = Table(
        title="chatstorm: what the agent said (judged conversations)", title_justify="left"
    )
    for header in (
        "Scenario",
        "Judged",
        "Success",
        "Outcomes",
        "Worst evaluation",
        "By personality",
    ):
        table.add_column(header, justify="right" if header in ("Judged", "Success") else "left")
    totals = report.totals.judging
    if len(rows) > 1 and totals is not None:
        rows.append(("Total", totals))
    for name, judging in rows:
        outcomes = outcomes_cell(judging.outcomes)
        personalities = ", ".join(
            f"{personality} {percent(figures.success_rate)}"
            for personality, figures in judging.by_personality.items()
        )
        table.add_row(
            name,
            str(judging.conversations),
            percent(judging.success_rate),
            outcomes,
            worst_evaluation(judging.evaluations),
            personalities,
            end_section=len(rows) > 1 and name == rows[-2][0],
        )
    return table


def outcomes_cell(outcomes: Mapping[str, int], missing: str = "-") -> str:
    """``resolved 12, unresolved 3``; nothing when the scenario declares no outcome (all
    of its conversations are then ``unresolved``)."""
    if set(outcomes) <= {"unresolved"}:
        return missing
    return ", ".join(f"{label} {count}" for label, count in outcomes.items())


def worst_evaluation(evaluations: Mapping[str, EvaluationFigures]) -> str:
    """The evaluation that passes least often, with its pass rate."""
    judged = [(e.pass_rate, name) for name, e in evaluations.items() if e.pass_rate is not None]
    if not judged or min(judged)[0] == 1.0:
        return "-"
    rate, name = min(judged)
    return f"{name} {percent(rate)}"


def print_summary(report: Report, console: Console | None = None, judging_too: bool = True) -> None:
    """The tables; ``judging_too`` False leaves the judging table to the caller's own."""
    console = console or Console(width=160)
    console.print(batching_table(report))
    judging = judging_table(report) if judging_too else None
    if judging is not None:
        console.print(judging)
    llm = llm_table(report)
    if llm is not None:
        console.print(llm)
    lag = report.run.loop_lag_ms
    if lag.overloaded_windows:
        console.print(
            f"[bold red]Overloaded:[/] the harness's event loop ran late (p99 {lag.p99} ms, "
            f"max {lag.max or 0:.0f} ms) in {lag.overloaded_windows} window(s) of 5 s; "
            "latencies include up to that much harness delay. Run fewer users per process."
        )
    reconnected = report.totals.bursts_reconnected
    if reconnected:
        console.print(
            f"{reconnected} burst(s) spanned a reconnect to the agent: their messages are "
            "counted, their timing is left out of the latencies (it is the outage's)."
        )
    _print_fleet(report, console)
    untranscribed = report.totals.agent_messages_untranscribed
    if untranscribed:
        console.print(
            f"{untranscribed:,} agent message(s) beyond {TRANSCRIBED_PER_TURN} in one turn were "
            "counted and timed but not kept in the transcript (the bot flooded the chat)."
        )
    errors = report.totals.bot_errors
    if errors:
        counted = ", ".join(f"{category} {count:,}" for category, count in errors.items())
        console.print(f"[bold red]Bot errors[/] (what the emulator saw it do wrong): {counted}")
    if errors.get("never_polled"):
        console.print(
            f"[bold red]The bot never called getUpdates[/] (nor set a webhook): none of the "
            f"{errors['never_polled']:,} message(s) it was sent reached it. Is it running, "
            "with the emulator's URL as its Bot API base URL and the same token?"
        )
    scale = report.run.time_scale
    if scale != 1.0:
        console.print(
            f"Times are real measured time; the run compressed scenario time by "
            f"time_scale={scale} (divide by it for scenario seconds)."
        )


def print_objectives(results: Sequence[SloResult], console: Console | None = None) -> None:
    """Each objective's verdict with its measured value, and the count."""
    if not results:
        return
    console = console or Console(width=160)
    failed = sum(not result.passed for result in results)
    lines = [
        "Service-level objectives:",
        *(f"  {result.line()}" for result in results),
        f"Objectives: {len(results) - failed} passed, {failed} failed",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def repeats_label(runs: int, successes: int, infrastructure: int) -> str:
    """Always passes, flaky or always fails, with n; failures the network or the harness
    caused are told apart."""
    if successes == runs:
        label = f"always passes ({runs})"
    elif successes == 0:
        label = f"always fails ({runs})"
    else:
        label = f"flaky ({successes}/{runs})"
    return f"{label}, {infrastructure} infra" if infrastructure else label


def pass_hat_k_text(values: dict[str, float], clean: dict[str, float] | None) -> str:
    """pass^1 and pass^n, the first and last of the curve; and, where the network or the
    harness failed some runs, the same without them."""
    if not values:
        return "-"
    last = max(values, key=int)
    shown = ["1", last] if last != "1" else ["1"]
    text = " · ".join(f"^{k} {values[k]:.2f}" for k in shown)
    if clean and clean != values:
        top = max(clean, key=int)
        text += f" (without infra: ^1 {clean['1']:.2f} · ^{top} {clean[top]:.2f})"
    return text


def _print_fleet(report: Report, console: Console) -> None:
    """On a master: workers that were lost or never sent their last figures, and lines
    the files lack."""
    fleet = report.fleet
    if fleet is None:
        return
    for worker in fleet.lost:
        console.print(
            f"[bold red]Worker lost:[/] {worker} (its heartbeat stopped): its conversations "
            "are counted up to its last report."
        )
    for worker in fleet.unanswered:
        console.print(
            f"[bold red]Worker unanswered:[/] {worker} never sent its last figures: what it "
            "recorded since its last report is missing."
        )
    if fleet.lines_missing:
        console.print(
            f"{fleet.lines_missing:,} transcript line(s) did not reach the master (dropped "
            "by a worker that could not keep up, or lost on the way): see report.json fleet."
        )
