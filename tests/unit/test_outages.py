"""What the process says when the agent's side goes quiet or away: once, and once more
when it is back; how long users back off; files a killed run leaves whole."""

from __future__ import annotations

import json
import logging
import random

import pytest

from harness.clock import Clock
from harness.files import LineFile, write_json_atomically
from harness.outages import BACKOFF_MAX_S, Outages
from harness.transport.traffic import SilenceWatch, Traffic


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_silence_is_said_once_while_conversations_wait_and_once_when_it_ends(caplog):
    traffic = Traffic(last=0.0)
    watch = SilenceWatch("Telegram", Clock(0.1), traffic)  # 60 scenario s: 6 real s
    assert traffic.last > 0  # a run's watch starts the count afresh
    traffic.last = 100.0
    watch.check(200.0)  # quiet for long, but nobody waits: not an alarm
    assert watch.status(200.0)["silent"] is False
    traffic.waiting = 4
    watch.check(105.9)
    assert watch.silent_since is None
    for now in (106.0, 107.0, 130.0):
        watch.check(now)
    status = watch.status(130.0)  # 30 real seconds: 300 scenario seconds at this scale
    assert status == {"silent": True, "silent_for_s": 300.0, "waiting_on_transport": 4}
    traffic.last = 131.0  # a reply
    watch.check(131.5)
    assert watch.status(131.5)["silent"] is False
    assert warnings(caplog) == [
        "chatstorm: no traffic from Telegram for 60 s: 4 conversations waiting",
        "chatstorm: traffic from Telegram again after 310 s of silence",
    ]


def test_an_outage_is_said_once_and_each_user_backs_off_in_its_own_failures(caplog):
    outages = Outages(random.Random(1))
    pauses = [outages.down("the Bot API emulator", "connection refused", n) for n in range(1, 9)]
    outages.down("the Bot API emulator", "connection refused", 1)  # another user, its first
    for n, pause in enumerate(pauses, start=1):
        nominal = min(0.5 * 2 ** (n - 1), BACKOFF_MAX_S)
        assert nominal / 2 <= pause <= nominal  # jittered, never more than the cap
    assert max(pauses) <= BACKOFF_MAX_S
    assert outages.status() == {"the Bot API emulator": pytest.approx(0, abs=1)}
    outages.up("Telegram")  # another peer: nothing to say
    outages.up("the Bot API emulator")
    outages.up("the Bot API emulator")
    assert outages.status() == {}
    said = warnings(caplog)
    assert said[0] == (
        "chatstorm: the Bot API emulator is unreachable: connection refused; users back off "
        "until it is back"
    )
    assert said[1].startswith("chatstorm: the Bot API emulator is reachable again after 0 s")
    assert said[1].endswith("(9 failed attempts)") and len(said) == 2


def test_a_line_file_holds_only_whole_lines_and_loses_nothing_when_closed(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = LineFile(path, flush_bytes=100)
    written = [
        json.dumps({"n": n, "text": "x" * 30}).encode() + b"\n" for n in range(9)
    ]  # 52 bytes each
    for line in written:
        lines.write(line)
        on_disk = path.read_bytes()
        assert on_disk.endswith(b"\n") or not on_disk  # a killed run leaves whole lines
        assert written[0] in on_disk or len(on_disk) == 0
    assert path.read_bytes() != b"".join(written)  # some still held in memory
    lines.close()
    assert path.read_bytes() == b"".join(written)


def test_a_json_file_is_replaced_whole_and_no_temporary_stays_behind(tmp_path):
    path = tmp_path / "report.json"
    write_json_atomically(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomically(path, {"a": object()})  # fails while writing
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
