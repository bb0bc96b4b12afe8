"""The process runtime without Locust: the same transport, personas, bounded wind-down and
report a Locust process uses, under plain asyncio (as ``harness generate`` runs it)."""

from __future__ import annotations

import asyncio
import logging
import time

from harness.metrics.loop_lag import LoopLagFigures
from harness.metrics.quality import QualityTimeline
from harness.report import Recorder
from harness.runtime import ProcessRuntime, RunSettings, conclude
from harness.transport.mock import AGENT_LOG_FILE
from tests.support.scenarios import make

SCALE = 0.05


async def test_conversations_run_and_conclude_without_locust(tmp_path):
    scenario = make("Plain", expect={"reply_groups_per_burst_max": 1})
    runtime = ProcessRuntime(RunSettings(time_scale=SCALE, report_dir=tmp_path), [scenario])
    await runtime.open()
    recorder = Recorder(timeline=runtime.timeline)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(runtime.converse(scenario, f"c{n}", recorder) for n in range(3))),
            30,
        )
    finally:
        await runtime.close(within_s=5)
    conclusion = conclude(
        recorder, runtime.settings, runtime.scenarios, LoopLagFigures(), QualityTimeline()
    )
    totals = conclusion.report.totals
    assert totals.conversations == 3 and totals.end_reasons == {"max_turns": 3}
    batches = (tmp_path / AGENT_LOG_FILE).read_bytes().splitlines()
    assert totals.bursts == len(batches) == 6  # the agent batched every burst
    assert conclusion.exit_code == 0  # the scenario's objective held
    assert (tmp_path / "report.json").exists()
    assert not runtime.active


class _StuckTransport:
    peer = "nothing"

    async def close(self) -> None:
        await asyncio.Event().wait()


async def test_closing_is_bounded_and_says_what_did_not_close(caplog):
    runtime = ProcessRuntime(RunSettings(), [make("Any")])
    runtime.transport = _StuckTransport()
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        await runtime.close(within_s=0.2)
    assert time.monotonic() - began < 2.0  # 0.2 s, and a stalled machine's margin
    assert caplog.messages == [
        "chatstorm: closing the transport did not end within 0.2 s; going on without it"
    ]
