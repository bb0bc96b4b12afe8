"""What the HTML report makes of a run's files: the pauses and whether the agent spoke
during them, the sample of conversations, chats with premature replies marked, charts
only where there is something to draw, and a page that run texts cannot break."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from harness.metrics.loop_lag import LoopLagFigures
from harness.metrics.quality import QualityTimeline
from harness.records import ConversationResult
from harness.report import Recorder, build_report
from harness.report.html import ReportFolderError, sources, write_html_report
from harness.report.html.charts import build_charts
from harness.report.html.chats import TEXT_CHARS, messages
from harness.report.html.sources import PauseEvidence, read_run_folder
from harness.report.html.tables import tables_html
from harness.report.model import MatrixLayout, Report


def _report(*scenarios: str) -> Report:
    return _report_of(
        *(ConversationResult(f"{name}#1", name, 1, "max_turns", 0) for name in scenarios)
    )


def _report_of(*results: ConversationResult) -> Report:
    recorder = Recorder()
    for result in results:
        recorder.on_end(result)
    header = {"run_id": "test", "transport": "mock", "time_scale": 1.0, "seed": "0"}
    header["loop_lag_ms"] = LoopLagFigures().to_report()
    figures = build_report(recorder, header)
    return Report.model_validate({**figures, "load": QualityTimeline().to_report(0.0), "slo": []})


def _line(conversation: str, turn: int, role: str, t: float, **extra) -> dict:
    scenario = conversation.split("#")[0]
    return {
        "conversation_id": conversation,
        "scenario": scenario,
        "persona": "P",
        "turn": turn,
        "role": role,
        "text": f"{role} at {t}",
        "time": "2026-12-04T10:00:00.000+00:00",
        "t_s": t,
        **extra,
    }


def _folder(tmp_path: Path, report: Report, lines: list[dict], verdicts=()) -> Path:
    (tmp_path / "report.json").write_bytes(orjson.dumps(report.model_dump(mode="json")))
    (tmp_path / "transcripts.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    if verdicts:
        body = b"".join(orjson.dumps(v) + b"\n" for v in verdicts)
        (tmp_path / "conversations.jsonl").write_bytes(body)
    return tmp_path


def test_a_pause_is_between_two_messages_of_one_burst_and_knows_if_the_agent_spoke(tmp_path):
    lines = [
        _line("S#1", 0, "client", 0.0),
        _line("S#2", 0, "client", 0.25),  # another conversation, interleaved
        _line("S#1", 0, "client", 1.0),  # pause 1.0, nothing said during it
        _line("S#1", 0, "agent", 1.5, action="typing"),  # an action is not a reply
        _line("S#1", 0, "agent", 1.6),
        _line("S#1", 0, "agent", 1.7, edit=True),
        _line("S#1", 0, "client", 3.0),  # pause 2.0, the agent spoke during it
        _line("S#1", 0, "agent", 3.5),
        _line("S#1", 1, "client", 10.0),  # a new turn: no pause
        _line("S#2", 0, "client", 0.75),  # pause 0.5
    ]
    folder = read_run_folder(_folder(tmp_path, _report("S"), lines))
    assert sorted(folder.pauses["S"].points) == [(0.5, False), (1.0, False), (2.0, True)]
    assert folder.conversations_total == 2


def test_pauses_beyond_the_drawn_points_are_still_counted_per_bin():
    evidence = PauseEvidence(limit=10)
    for index in range(1000):
        evidence.add(1.0, answered=index % 4 == 0)
    assert len(evidence.points) == 10 and evidence.seen == 1000
    ((middle, share, count),) = evidence.rates()
    assert count == 1000 and share == 0.25 and 1.0 <= middle < 1.26


def test_the_sample_takes_scenarios_alike_and_failed_conversations_first(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "SAMPLED_CONVERSATIONS", 6)
    lines = [_line(f"Big#{i}", 0, "client", float(i)) for i in range(100)]
    lines += [_line(f"Small#{i}", 0, "client", float(i)) for i in range(2)]
    failed = {"Big#17", "Big#50", "Big#93"}
    verdicts = [
        {"conversation_id": f"Big#{i}", "scenario": "Big", "success": f"Big#{i}" not in failed}
        for i in range(100)
    ]
    folder = read_run_folder(_folder(tmp_path, _report("Big", "Small"), lines, verdicts))
    assert len(folder.sampled) == 6
    assert {"Small#0", "Small#1"} <= set(folder.sampled)
    assert failed <= set(folder.sampled)
    assert set(folder.lines) == set(folder.sampled)
    assert set(folder.verdicts) == set(folder.sampled) & {v["conversation_id"] for v in verdicts}


def test_a_line_cut_by_a_killed_run_is_left_out(tmp_path):
    folder = _folder(tmp_path, _report("S"), [_line("S#1", 0, "client", 0.0)])
    with (folder / "transcripts.jsonl").open("ab") as out:
        out.write(b'{"conversation_id": "S#2", "sce')
    assert read_run_folder(folder).conversations_total == 1


def test_a_folder_without_a_report_says_which_file_and_what_to_give(tmp_path):
    with pytest.raises(ReportFolderError, match=r"report\.json does not exist.*--report-dir"):
        read_run_folder(tmp_path)
    (tmp_path / "report.json").write_text('{"run": 1}')
    with pytest.raises(ReportFolderError, match=r"not a chatstorm report\.json"):
        read_run_folder(tmp_path)


def test_a_reply_the_burst_went_on_after_is_premature_and_pauses_skip_actions():
    lines = [
        _line("S#1", 0, "client", 0.0),
        _line("S#1", 0, "agent", 0.5),  # answered before the user was done
        _line("S#1", 0, "client", 1.0),
        _line("S#1", 0, "agent", 1.2, action="typing"),
        _line("S#1", 0, "agent", 2.0),
        _line("S#1", 1, "client", 5.0, text="x" * (TEXT_CHARS + 1)),
    ]
    shown = messages(lines)
    assert [m["premature"] for m in shown] == [False, True, False, False, False, False]
    assert [m["pause_s"] for m in shown] == [None, 0.5, 0.5, 0.2, 1.0, 3.0]
    assert shown[-1]["cut"] and len(shown[-1]["text"]) == TEXT_CHARS
    assert shown[0]["time"] == "10:00:00.000"


def test_a_functional_run_leaves_the_load_charts_out_and_says_why():
    charts, left_out = build_charts(_report("S"), {})
    assert "latency-time" not in {chart.id for chart in charts}
    reasons = {item.title: item.why for item in left_out}
    assert "harness run" in reasons["Reply latency over time"]
    assert "matrix" in reasons["Matrix"]


def test_a_two_parameter_matrix_puts_each_cell_where_its_values_are():
    report = _report("M (a=1, b=x)", "M (a=2, b=x)", "M (a=1, b=y)")
    rates = {"M (a=1, b=x)": 0.1, "M (a=2, b=x)": 0.2, "M (a=1, b=y)": 0.3}
    for name, rate in rates.items():
        report.scenarios[name].premature_reply_rate = rate
    report.matrix = MatrixLayout(
        name="grid",
        parameters=["a", "b"],
        cells={
            "M (a=1, b=x)": {"a": 1, "b": "x"},
            "M (a=2, b=x)": {"a": 2, "b": "x"},
            "M (a=1, b=y)": {"a": 1, "b": "y"},
        },
    )
    charts, _ = build_charts(report, {})
    (matrix,) = [chart for chart in charts if chart.id == "matrix"]
    premature = matrix.data[1]
    assert premature["x"] == ["1", "2"] and premature["y"] == ["x", "y"]
    assert premature["z"] == [[10.0, 20.0], [30.0, None]]


def test_run_texts_cannot_end_the_script_or_fill_the_page_markers(tmp_path):
    planted = "</script><script>alert(1)</script> <!-- @@PLOTLY@@ @@DATA@@"
    lines = [_line("S#1", 0, "client", 0.0, text=planted)]
    page = write_html_report(_folder(tmp_path, _report("S"), lines)).read_text()
    data = re.search(
        r'<script type="application/json" id="chatstorm-data">(.*?)</script>', page, re.S
    )
    assert data is not None and "</" not in data.group(1)
    text = json.loads(data.group(1))["chats"]["conversations"][0]["messages"][0]["text"]
    assert text == planted
    assert page.count("Content-Security-Policy") == 1 and "default-src 'none'" in page
    assert page.count("<script>") == 2  # Plotly and the page's own: nothing else


def test_what_the_bot_did_wrong_is_a_table_of_its_own_only_when_it_did():
    assert "What the bot did wrong" not in tables_html(_report("Calm"))
    mistakes = ((("never_polled", "the bot never called getUpdates"), 3),)
    report = _report_of(
        ConversationResult("Bad#1", "Bad", 1, "max_turns", 0, None, mistakes),
        ConversationResult("Bad#2", "Bad", 1, "max_turns", 0, untranscribed=7),
    )
    table = tables_html(report).split('id="bot-mistakes"')[1].split("</section>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1])
    cells = [re.findall(r"<td>(.*?)</td>", row)[:3] for row in rows]
    assert cells == [["Bad", "never_polled", "3"], ["Bad", "untranscribed", "7"]]
    assert "never called getUpdates" in table
