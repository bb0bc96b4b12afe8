"""The report's tables, as HTML built here (every value escaped): how the run ran, the
objectives' verdicts, what changed since the baseline, one row per scenario, and what the
bot under test did wrong."""

from __future__ import annotations

from html import escape

from harness.records import TRANSCRIBED_PER_TURN
from harness.report.model import Report, ScenarioFigures
from harness.report.summary import pass_hat_k_text, percent, repeats_label

BOT_MISTAKES = {
    "never_polled": "messages never fetched: the bot never called getUpdates nor set a webhook",
    "unfetched": "messages the bot had not fetched when their conversation ended",
    "duplicate_answer": "the same text sent twice in a row",
    "forbidden": "sent to a chat Telegram would refuse (403: a user who never opened it)",
    "bad_request": "calls refused with 400 (a message it never sent edited, a text too long…)",
    "unknown_method": "calls to a method the emulator does not have",
    "rate_limited": "calls refused with 429 under --telegram-limits",
    "retry_after_ignored": "calls made inside a retry_after it had been given",
}
"""What each ``bot_errors`` category means, for a reader of the report."""


def header_html(report: Report) -> str:
    """The run in one line of facts, and the objectives' verdict in a word."""
    run = report.run
    facts = [
        ("started", run.started_at),
        ("duration", f"{run.duration_s:,.1f} s"),
        ("transport", run.transport),
        ("time scale", f"{run.time_scale:g}"),
        ("seed", run.seed),
        ("conversations", f"{report.totals.conversations:,}"),
    ]
    if run.users is not None:
        facts.append(("users", str(run.users)))
    if run.workers is not None:
        facts.append(("workers", str(run.workers)))
    verdict = ""
    if report.slo:
        held = all(objective.passed for objective in report.slo)
        word, kind = ("objectives held", "pass") if held else ("an objective failed", "fail")
        verdict = f'<span class="verdict {kind}">{word}</span>'
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return f'<dl class="facts">{items}</dl>{verdict}'


def tables_html(report: Report) -> str:
    return _scenarios(report) + _bot_mistakes(report) + _objectives(report) + _baseline(report)


def _scenarios(report: Report) -> str:
    columns = (
        "scenario",
        "conversations",
        "success",
        "repeats",
        "pass^k",
        "bursts",
        "first reply p95",
        "complete reply p95",
        "premature",
        "timeouts",
        "debounce (s)",
        "cost",
    )
    rows = [_scenario_row(name, figures) for name, figures in report.scenarios.items()]
    if len(report.scenarios) > 1:
        rows.append(_scenario_row("all scenarios", report.totals, total=True))
    return _table("Scenarios", columns, rows, "scenarios")


def _scenario_row(name: str, figures: ScenarioFigures, total: bool = False) -> str:
    judging = figures.judging
    success = "–"
    if judging is not None and judging.conversations:
        success = f"{percent(judging.success_rate)} ({judging.successes}/{judging.conversations})"
    repeats = "–"
    if judging is not None and figures.pass_hat_k:  # harness run: the same scenario n times
        repeats = repeats_label(
            judging.conversations, judging.successes, judging.infrastructure_failures
        )
    pass_k = pass_hat_k_text(figures.pass_hat_k or {}, figures.pass_hat_k_without_infrastructure)
    estimate = figures.debounce_estimate_s
    low, high = estimate.max_pause_without_premature, estimate.min_pause_with_premature
    cells = (
        name,
        f"{figures.conversations:,}",
        success,
        repeats,
        pass_k,
        f"{figures.bursts:,}",
        _ms(figures.latency_ms["first_reply"].p95),
        _ms(figures.latency_ms["complete_reply"].p95),
        percent(figures.premature_reply_rate),
        f"{figures.timeouts:,}",
        f"{_number(low)} – {_number(high)}" if low is not None or high is not None else "–",
        f"${figures.llm.cost_usd:.4f}" if figures.llm.requests else "–",
    )
    return _row(cells, "total" if total else "")


def _bot_mistakes(report: Report) -> str:
    """Counted per scenario; a flood's messages not kept whole, too (not a mistake of the
    bot's as such, but a reason its transcript is shorter than its count)."""
    rows = []
    for name, figures in report.scenarios.items():
        for category, count in figures.bot_errors.items():
            meaning = BOT_MISTAKES.get(category, "")
            rows.append(_row((name, category, f"{count:,}", meaning), "fail"))
        if figures.agent_messages_untranscribed:
            meaning = f"agent messages beyond {TRANSCRIBED_PER_TURN} in one turn: counted, not kept"
            count = f"{figures.agent_messages_untranscribed:,}"
            rows.append(_row((name, "untranscribed", count, meaning)))
    if not rows:
        return ""
    columns = ("scenario", "what", "count", "meaning")
    return _table("What the bot did wrong", columns, rows, "bot-mistakes")


def _objectives(report: Report) -> str:
    if not report.slo:
        return ""
    rows = [
        _row(
            (
                o.scenario or "all scenarios",
                o.key,
                f"{o.limit:g}",
                "–" if o.measured is None else f"{o.measured:.4g}",
                "held" if o.passed else "FAILED",
            ),
            "pass" if o.passed else "fail",
        )
        for o in report.slo
    ]
    columns = ("scenario", "objective", "limit", "measured", "verdict")
    return _table("Objectives", columns, rows, "objectives")


def _baseline(report: Report) -> str:
    if not report.baseline:
        return ""
    rows = [
        _row(
            (
                c.scenario,
                c.figure,
                f"{c.before:.4g}",
                f"{c.after:.4g}",
                f"{c.after - c.before:+.4g}",
                "regressed" if c.regressed else "",
            ),
            "fail" if c.regressed else "",
        )
        for c in report.baseline
    ]
    columns = ("scenario", "figure", "before", "after", "change", "")
    return _table("Since the baseline", columns, rows, "baseline")


def _row(cells: tuple[str, ...], css: str = "") -> str:
    """A table row, every cell escaped."""
    kind = f' class="{css}"' if css else ""
    return f"<tr{kind}>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"


def _table(title: str, columns: tuple[str, ...], rows: list[str], css: str) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    return (
        f'<section class="card table-card" id="{css}"><h2>{escape(title)}</h2>'
        f'<div class="scroll"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g}"
