"""How many conversations per second ``harness run`` holds against the reference agent.

2,000 judged conversations (two turns each, a judged scenario with every offline
evaluator) at concurrency 100, at time scale 0.01 so the scenario's own pauses (a
debounce of 1 s, think times of 0.5 s) take milliseconds and the harness's work shows:
conversations per second and CPU per conversation, measured around ``harness run`` in
this process (the Python start and imports left out). Results go to the "harness run"
section of bench/RESULTS.md.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from results import replace_section  # noqa: E402

from harness.cli.run import run  # noqa: E402

SECTION = "## harness run"
FAILURES = (
    " The failures seen in earlier runs: a busy loop stretched a 3 ms pause inside a burst "
    "to about 40 ms, past the 10 ms debounce; the agent answered the first message alone, "
    "and the memory check found no order number in the reply."
)
CONVERSATIONS = 2_000
CONCURRENCY = 100
SCENARIO = """\
name: Functional
pattern: "C2 A"
max_turns: 2
persona:
  multi_message_probability: 0
  script:
    openers: ["Hello, my order {order} did not arrive."]
    messages: ["Can you check order {order}?"]
    closings: ["Thanks, bye!"]
    slots: {order: ["A-1", "B-2"]}
timing: {inter_message_delays: [0.3], think_time: 0.5}
collect: {first_reply_timeout: 10, quiet_window: 0.5, max_collect: 10}
agent:
  debounce_s: 1.0
  think_time_s: 0.5
  reply_parts: 1
  replies: ["Hello! Order {messages}: sorry, it is on its way."]
outcomes: [{label: resolved, agent_keywords: [on its way]}]
turn_evaluations: [{type: string_contains, value: order}]
final_evaluations:
  - {type: conversation_length, min_turns: 2, max_turns: 2}
  - {type: conversation_flow, required_patterns: [greeting_first, empathy_then_solution]}
  - {type: context_retention, test_memory_of: ["{order}"], retention_turns: 1}
  - {type: execution_time, max_ms: 5000}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "functional.yaml"
        scenario.write_text(SCENARIO)
        argv = [str(scenario), "--repeat", str(CONVERSATIONS), "--concurrency", str(CONCURRENCY)]
        argv += ["--time-scale", "0.01", "--report-dir", str(Path(tmp) / "report")]
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.perf_counter()
        code = run(argv, Console(file=io.StringIO(), width=160))
        wall = time.perf_counter() - began
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        report = json.loads((Path(tmp) / "report" / "report.json").read_text())
    totals = report["totals"]
    success = totals["judging"]["success_rate"]
    first_p99 = totals["latency_ms"]["first_reply"]["p99"]
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    rate = CONVERSATIONS / wall
    section = f"""{SECTION}

Measured {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} on {os.cpu_count()} cores, Python
{sys.version.split()[0]}. Command: `python bench/harness_run.py` (part of `make bench`).

{CONVERSATIONS:,} judged conversations of two turns (two messages a turn; outcome, a turn
evaluation and four final ones, offline) against the reference agent, {CONCURRENCY} at
once, time scale 0.01, with report.json, report.html, transcripts.jsonl,
conversations.jsonl and junit.xml written (exit code {code}). The agent answers 15 ms
after a burst's last message (debounce 10 ms, thinking 5 ms): first-reply p99 was
{first_p99} ms, and {success:.1%} of the conversations succeeded.{FAILURES if success < 1 else ""}

- **{rate:,.0f} conversations per second** ({wall:.1f} s for {CONVERSATIONS:,});
- **{cpu / CONVERSATIONS * 1000:.2f} ms of CPU per conversation**, the reference agent
  and the judging included.
"""
    replace_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
