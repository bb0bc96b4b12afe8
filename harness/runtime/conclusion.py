"""The end of a run: its report, validated against the report's models, the objectives'
verdicts, the file, and the exit code they decide. One place for every front end."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.metrics.judging import pass_hat_k
from harness.metrics.loop_lag import LoopLagFigures
from harness.metrics.quality import QualityTimeline
from harness.report import Recorder, SloResult, build_report, evaluate, write_report
from harness.report.html import write_html_report
from harness.report.model import Objective, Report, ScenarioFigures
from harness.runtime.process import RunSettings
from harness.scenario import Scenario

log = logging.getLogger("chatstorm")
SLO_FAILED_EXIT_CODE = 3


@dataclass(frozen=True)
class Conclusion:
    report: Report
    slo_results: list[SloResult]

    @property
    def exit_code(self) -> int | None:
        """3 when an objective failed, 0 when all held, None when none was declared (the
        front end's own rule decides)."""
        if not self.slo_results:
            return None
        return 0 if all(result.passed for result in self.slo_results) else SLO_FAILED_EXIT_CODE


def add_pass_hat_k(figures: ScenarioFigures) -> None:
    """pass^k from the scenario's judged tries: all of them, and without those the
    network or the harness failed."""
    judging = figures.judging
    figures.pass_hat_k = figures.pass_hat_k_without_infrastructure = None
    if judging is None or not judging.conversations:
        return
    runs, successes = judging.conversations, judging.successes
    figures.pass_hat_k = pass_hat_k(runs, successes)
    if runs > judging.infrastructure_failures:
        clean = runs - judging.infrastructure_failures
        figures.pass_hat_k_without_infrastructure = pass_hat_k(clean, successes)


def conclude(
    recorder: Recorder,
    settings: RunSettings,
    scenarios: dict[str, Scenario],
    loop_lag: LoopLagFigures,
    quality: QualityTimeline,
    amend: Callable[[Report], None] | None = None,
    **run: int | None,
) -> Conclusion:
    """Build the report (``run``: what the front end adds, such as ``users`` and
    ``workers``; ``amend``: what it adds to the report itself, such as the baseline's
    changes), check the objectives, and write ``report.json`` and ``report.html`` when
    the run has a report folder."""
    header = {
        "run_id": settings.run_id,
        "transport": settings.transport.name,
        "time_scale": settings.time_scale,
        "seed": settings.seed,
        "loop_lag_ms": loop_lag.to_report(),
        **run,
    }
    figures = {
        **build_report(recorder, header),
        "load": quality.to_report(recorder.timeline.started_wall),
    }
    report = Report.model_validate({**figures, "slo": []})
    if settings.judge_all:  # harness run: every scenario's tries, as pass^k
        for scenario_figures in report.scenarios.values():
            add_pass_hat_k(scenario_figures)
    slo_results = evaluate(
        report.scenarios, scenarios, settings.expect, report.totals, settings.expect_totals
    )
    report.slo = [Objective.model_validate(result.to_dict()) for result in slo_results]
    if amend is not None:
        amend(report)
    if settings.report_dir is not None:
        path = write_report(settings.report_dir, report)
        log.info("chatstorm report written to %s", path)
        recorder.flush()  # the page reads the transcripts: every line so far, whole
        _write_page(settings.report_dir)
    return Conclusion(report, slo_results)


def _write_page(folder: Path) -> None:
    """report.html beside report.json; a page that cannot be built costs the page (one
    line saying why), never the report."""
    try:
        path = write_html_report(folder)
    except Exception as exc:
        log.warning("chatstorm: report.html not written (%s: %s)", type(exc).__name__, exc)
        return
    log.info("chatstorm page written to %s", path)
