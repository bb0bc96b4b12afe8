"""The end of a run: its report, the objectives' verdicts, the file, and the exit code
they decide. One place for every front end."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from harness.metrics.quality import QualityTimeline
from harness.report import Recorder, SloResult, build_report, evaluate, write_report
from harness.scenario import Scenario

log = logging.getLogger("chatstorm")
SLO_FAILED_EXIT_CODE = 3


@dataclass(frozen=True)
class Conclusion:
    report: dict
    slo_results: list[SloResult]

    @property
    def exit_code(self) -> int | None:
        """3 when an objective failed, 0 when all held, None when none was declared (the
        front end's own rule decides)."""
        if not self.slo_results:
            return None
        return 0 if all(result.passed for result in self.slo_results) else SLO_FAILED_EXIT_CODE


def conclude(
    recorder: Recorder,
    run: dict,
    quality: QualityTimeline,
    scenarios: dict[str, Scenario],
    expect: dict[str, str],
    report_dir: Path | None,
) -> Conclusion:
    """Build the report (``run`` says how the run went), check the objectives, and write
    ``report.json`` when there is a report folder."""
    report = build_report(recorder, run)
    report["load"] = quality.to_report(recorder.started_wall)
    slo_results = evaluate(report, scenarios, expect)
    report["slo"] = [result.to_dict() for result in slo_results]
    if report_dir is not None:
        path = write_report(report_dir, report)
        log.info("chatstorm report written to %s", path)
    return Conclusion(report, slo_results)
