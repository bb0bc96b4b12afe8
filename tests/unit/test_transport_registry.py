"""The transport registry and the options declared once: what a run's command line makes
of each transport, and the checks that refuse a run before it starts."""

from __future__ import annotations

import configargparse
import orjson
import pytest

from harness.agent.reference import BatchRecord
from harness.clock import Clock, Timeline
from harness.locust.options import add_arguments
from harness.runtime.options import run_settings
from harness.transport.botapi import BotApiSettings
from harness.transport.kind import OpenContext
from harness.transport.mock import AGENT_LOG_FILE, AgentLog
from harness.transport.registry import TRANSPORTS, choose_transport


def parsed(*argv: str, env: dict[str, str] | None = None) -> dict:
    """The option values Locust's parser (configargparse, as Locust builds it) makes."""
    parser = configargparse.ArgumentParser()
    add_arguments(parser)
    return vars(parser.parse_args(list(argv), env_vars=env or {}))


def test_every_option_is_declared_once_and_every_transport_has_its_group():
    parser = configargparse.ArgumentParser()
    add_arguments(parser)  # argparse refuses a flag declared twice
    titles = {group.title for group in parser._action_groups}
    for kind in TRANSPORTS.values():
        assert kind.options is None or kind.options.title in titles


def test_the_command_line_makes_the_named_transport_with_its_settings():
    values = parsed("--transport", "botapi", "--bot-token", "123:secret", "--botapi-serve")
    settings = run_settings(values, report_dir=None)
    assert settings.transport.name == "botapi"
    assert settings.transport.settings == BotApiSettings(url=None, token="123:secret", serve=True)
    assert settings.transport.problems() == []
    assert "secret" not in repr(settings)


def test_option_values_come_from_the_environment_too():
    values = parsed(env={"LOCUST_TIME_SCALE": "0.5", "LOCUST_AGENT_LOG": "/tmp/agent.jsonl"})
    settings = run_settings(values, report_dir=None)
    assert settings.time_scale == 0.5
    assert str(settings.transport.settings.agent_log) == "/tmp/agent.jsonl"


def test_a_bad_value_names_what_is_wrong(capsys):
    with pytest.raises(SystemExit):
        parsed("--time-scale", "0")
    assert "must be greater than 0, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--transport", "botapi"), ["--bot-token TOKEN", "--botapi-url URL"]),
        (("--transport", "botapi", "--bot-token", "nope", "--botapi-serve"), ["<bot id>:<secret>"]),
        (("--transport", "telethon"), ["--bot @username", "--api-id", "--accounts-file"]),
        (
            ("--transport", "telethon", "--bot", "@b", "--api-id", "1", "--api-hash", "h"),
            ["accounts"],
        ),
        ((), []),
    ],
)
def test_each_transport_says_what_it_is_missing(argv, expected):
    problems = choose_transport(parsed(*argv)).problems()
    assert len(problems) == len(expected)
    for problem, fix in zip(problems, expected, strict=True):
        assert fix in problem


def test_an_unknown_transport_names_those_there_are():
    with pytest.raises(ValueError, match="choose one of mock, botapi, telethon"):
        choose_transport({"transport": "carrier-pigeon"})


def context(tmp_path, timeline: Timeline, transcripts: bool = True) -> OpenContext:
    return OpenContext(Clock(), "0", timeline, tmp_path, transcripts)


async def test_the_agent_log_goes_where_the_run_writes_unless_told_otherwise(tmp_path):
    mock = TRANSPORTS["mock"]
    timeline = Timeline()
    default = await mock.open(mock.settings({}), context(tmp_path, timeline))
    assert default.log is not None and default.log.path == tmp_path / AGENT_LOG_FILE
    chosen = await mock.open(
        mock.settings({"agent_log": str(tmp_path / "x.jsonl")}),
        context(tmp_path, timeline, transcripts=False),
    )
    assert chosen.log is not None and chosen.log.path == tmp_path / "x.jsonl"
    none = await mock.open(mock.settings({}), context(tmp_path, timeline, transcripts=False))
    assert none.log is None
    worker = OpenContext(Clock(), "0", timeline, tmp_path, True, process="w1")
    named = await mock.open(mock.settings({"agent_log": str(tmp_path / "x.jsonl")}), worker)
    assert named.log is not None and named.log.path == tmp_path / "x-w1.jsonl"  # its own


def batch(chat_id: str, t: float) -> BatchRecord:
    return BatchRecord(chat_id, 1, [("hi", t)], t + 1.0, t + 2.0, [("hello", t + 3.0)])


def test_the_agent_log_is_on_the_timeline_and_starts_afresh_with_it(tmp_path):
    timeline = Timeline()
    log = AgentLog(tmp_path / AGENT_LOG_FILE, timeline)
    log.add("S", batch("a", timeline.started_mono - 5.0))  # begun before the run: left out
    log.add("S", batch("b", timeline.started_mono + 10.0))
    log.close()
    lines = [orjson.loads(line) for line in (tmp_path / AGENT_LOG_FILE).read_bytes().splitlines()]
    assert [line["chat_id"] for line in lines] == ["b"]
    assert lines[0]["scenario"] == "S"
    assert lines[0]["received"] == [{"text": "hi", "t_s": 10.0}]
    assert (lines[0]["t_closed"], lines[0]["t_started"]) == (11.0, 12.0)
    assert lines[0]["sent"] == [{"text": "hello", "t_s": 13.0}]
    timeline.restart()  # a new Locust test
    log.add("S", batch("c", timeline.started_mono + 1.0))
    log.close()
    lines = [orjson.loads(line) for line in (tmp_path / AGENT_LOG_FILE).read_bytes().splitlines()]
    assert [line["chat_id"] for line in lines] == ["c"]
