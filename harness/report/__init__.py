"""Reports: the Recorder (stats + transcript stream), report.json, the printed summary."""

from harness.report.recorder import Recorder
from harness.report.slo import SloResult, evaluate, parse_override
from harness.report.summary import print_objectives, print_summary
from harness.report.writer import (
    CONVERSATIONS_FILE,
    REPORT_FILE,
    TRANSCRIPT_FILE,
    build_report,
    prepare_report_dir,
    write_report,
)

__all__ = [
    "CONVERSATIONS_FILE",
    "REPORT_FILE",
    "TRANSCRIPT_FILE",
    "Recorder",
    "SloResult",
    "build_report",
    "evaluate",
    "parse_override",
    "prepare_report_dir",
    "print_objectives",
    "print_summary",
    "write_report",
]
