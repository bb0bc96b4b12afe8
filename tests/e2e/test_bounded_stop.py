"""The stop path is bounded: a conversation that ignores its cancellation (a transport
stuck in a loop, a library that swallows CancelledError) cannot hold the process past
the bound; it is counted as interrupted, never lost, and each wait that ran out is one
line in the log, never an exception."""

import json
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).parent / "probes" / "bounded_stop_probe.py"
BOUND_S = 0.3
SLACK_S = 3.0  # a stalled machine's margin; an unbounded wait never returns at all


def test_a_conversation_that_ignores_cancellation_cannot_hold_the_stop():
    result = subprocess.run(
        [sys.executable, str(PROBE), str(BOUND_S)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    bare = seen["bare"]
    assert bare["stubborn_finished"] is False and bare["failing_finished"] is False
    assert bare["stopped"]
    assert bare["seconds"] < 2 * BOUND_S + SLACK_S  # the wait and the loop's own stop
    runtime = seen["runtime"]
    assert runtime["seconds"] < BOUND_S + SLACK_S
    figures = runtime["figures"]
    assert figures["conversations"] == figures["conversations_interrupted"] == 2
    assert figures["bursts_interrupted"] == 0  # whether a burst was in flight is not known
    assert figures["end_reasons"] == {"interrupted": 2}
    assert seen["log"] == [
        "chatstorm: a stubborn conversation did not end within 0.3 s; going on without it",
        "chatstorm: closing the transport failed (RuntimeError: the transport broke); going on",
        "chatstorm: 1 task(s) ignored their cancellation when the event loop stopped; left behind",
        "chatstorm: winding down the conversations did not end within 0.3 s; going on without it",
        "chatstorm: 2 conversation(s) did not end at the stop; counted as interrupted",
        "chatstorm: 2 task(s) ignored their cancellation when the event loop stopped; left behind",
    ]
