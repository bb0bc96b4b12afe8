"""Judging a finished run again (``harness regrade``): the current scenarios' criteria
over the run's saved conversations, without holding a single one. A rubric changed, a
judge model changed: the verdicts follow, the measurements stay the run's.

It reads the run's ``conversations.jsonl`` (how each ended, its slots) and
``transcripts.jsonl`` (what was said, turn by turn, when) and writes ``regraded/`` beside
them: ``conversations.jsonl`` with the new verdicts and the run's ``report.json`` with
every ``judging`` section (and pass^k) judged anew.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.files import read_json_lines
from harness.judging.judge import ConversationJudge
from harness.llm.request import GatewaySettings
from harness.metrics.aggregate import RunStats
from harness.metrics.burst import BurstMeasurement
from harness.persona.services import LlmCacheSettings, PersonaServices, open_services
from harness.records import ConversationResult, TranscriptEntry
from harness.report import CONVERSATIONS_FILE, REPORT_FILE, TRANSCRIPT_FILE, Recorder
from harness.report.html import write_html_report
from harness.report.model import Judging, Report
from harness.report.writer import write_report
from harness.runtime.conclusion import add_pass_hat_k
from harness.scenario import Scenario
from harness.verdicts import Judgment

REGRADED = "regraded"


class RegradeError(ValueError):
    """The run's folder lacks what regrading needs; the message says what."""


@dataclass(frozen=True)
class Regraded:
    report: Report
    judged: int
    unknown: list[str]
    """The run's scenarios the given ones do not have: their conversations are left out."""
    folder: Path


async def regrade(
    folder: Path,
    scenarios: list[Scenario],
    gateway: GatewaySettings,
    cache: LlmCacheSettings,
    judge: bool = True,
) -> Regraded:
    report = Report.model_validate_json(_read(folder / REPORT_FILE))
    ended = _lines(folder / CONVERSATIONS_FILE)
    said: dict[str, list[dict]] = defaultdict(list)
    for line in _lines(folder / TRANSCRIPT_FILE):
        said[line["conversation_id"]].append(line)
    by_name = {scenario.name: scenario for scenario in scenarios}
    ran = {line["scenario"] for line in ended}
    wanted = [by_name[name] for name in sorted(ran & by_name.keys())]
    services = await open_services(wanted, "0", gateway, cache, judge)
    out = folder / REGRADED
    out.mkdir(exist_ok=True)
    recorder = Recorder(conversations=out / CONVERSATIONS_FILE, run_id=report.run.run_id)
    judged = 0
    try:
        for line in ended:
            scenario = by_name.get(line["scenario"])
            if scenario is None:
                continue
            messages = said[line["conversation_id"]]
            judgment = await _judge_again(scenario, line, messages, services)
            recorder.on_end(
                ConversationResult(
                    line["conversation_id"],
                    scenario.name,
                    line["turns"],
                    line["end_reason"],
                    0,
                    line.get("error"),
                    (),
                    None,
                    judgment,
                )
            )
            judged += 1
    finally:
        recorder.close()
        await services.close()
    regraded = _with_new_judging(report, recorder.stats)
    write_report(out, regraded)
    write_html_report(out, folder / TRANSCRIPT_FILE)
    return Regraded(regraded, judged, sorted(ran - by_name.keys()), out)


async def _judge_again(
    scenario: Scenario, line: dict, messages: list[dict], services: PersonaServices
) -> Judgment:
    """The conversation's transcript through a new judge, turn by turn, with the reply
    times the transcript shows; no termination condition is asked (it ended already)."""
    judge = ConversationJudge(scenario, line.get("slots") or {}, services.judges.get(scenario.name))
    turns: dict[int, list[dict]] = defaultdict(list)
    for message in messages:
        turns[message["turn"]].append(message)
    for turn in sorted(turns):
        for message in turns[turn]:
            judge.add(
                TranscriptEntry(
                    line["conversation_id"],
                    scenario.name,
                    message.get("persona", ""),
                    turn,
                    message["role"],
                    message["text"],
                    message["t_s"],
                    message.get("edit", False),
                    message.get("action"),
                )
            )
        await judge.after_turn(turn, _measured(turns[turn]), check_conditions=False)
    return await judge.conclude(line["end_reason"], line["turns"], line["duration_s"])


def _measured(messages: list[dict]) -> BurstMeasurement:
    """What the transcript tells of a turn's timing: the first reply after the last
    message the person sent, or none."""
    sent = [m["t_s"] for m in messages if m["role"] == "client"]
    last = max(sent, default=0.0)
    replies = [
        m["t_s"]
        for m in messages
        if m["role"] == "agent" and not m.get("action") and m["t_s"] >= last
    ]
    first = (min(replies) - last) * 1000 if replies else None
    return BurstMeasurement(
        len(sent), (), first, None, (), len(replies), 0, None, 0, 0, 1, None, first is None
    )


def _with_new_judging(report: Report, stats: RunStats) -> Report:
    regraded = report.model_copy(deep=True)
    for name, figures in regraded.scenarios.items():
        if name not in stats.scenarios:
            continue
        judging = stats.scenarios[name].judging.to_report()
        had_pass_hat_k = figures.pass_hat_k is not None  # a functional run's
        figures.judging = None if judging is None else Judging.model_validate(judging)
        if had_pass_hat_k:
            add_pass_hat_k(figures)
    totals = stats.totals().judging.to_report()
    regraded.totals.judging = None if totals is None else Judging.model_validate(totals)
    return regraded


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(path) from None


def _lines(path: Path) -> list[dict]:
    """The file's whole lines (a line a killed run cut short is left out)."""
    try:
        return list(read_json_lines(path))
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(path) from None


def _missing(path: Path) -> RegradeError:
    return RegradeError(
        f"{path} is missing: regrading needs a run's report folder (its report.json, "
        "conversations.jsonl and transcripts.jsonl)"
    )
