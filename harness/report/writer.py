"""report.json: the run's figures in one file, the contract documented in the README."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import orjson

from harness.clock import Clock
from harness.files import write_json_atomically
from harness.report.model import Report
from harness.report.recorder import Recorder

REPORT_FILE = "report.json"
TRANSCRIPT_FILE = "transcripts.jsonl"
CONVERSATIONS_FILE = "conversations.jsonl"


def prepare_report_dir(report_dir: Path) -> None:
    """Create the report folder now, so a bad path fails before the run, not after it.

    Raises OSError with a message that names the folder and the fix.
    """
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        # A uniquely named probe: processes sharing the folder (--processes) check at once.
        with tempfile.NamedTemporaryFile(dir=report_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(
            f"cannot write reports to {report_dir}: {reason}; choose a writable folder "
            "with --report-dir"
        ) from None


def build_report(recorder: Recorder, run: dict) -> dict:
    """The report's run header (``run``: how it ran) and its per-scenario and total
    figures, before the load timeline and the objectives join them (``harness.runtime``
    makes the typed ``Report``)."""
    started = datetime.fromtimestamp(recorder.timeline.started_wall, UTC)
    header = {
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(Clock.now() - recorder.timeline.started_mono, 3),
        **run,
    }
    return {"run": header, **recorder.stats.to_report()}


def write_report(report_dir: Path, report: Report) -> Path:
    """Written whole, through a file renamed into place: never half a report."""
    path = report_dir / REPORT_FILE
    document = report.model_dump(mode="json")
    write_json_atomically(path, document, ".report-", orjson.OPT_INDENT_2)
    return path
