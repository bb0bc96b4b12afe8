"""chatstorm's options on Locust's command line: the run's and the transports' (declared
in ``harness.runtime.options`` and each transport's kind), and Locust's own few.

Locust imports the locustfile before it parses the full command line, but User classes
(one per scenario) must exist at import time; so ``--scenario`` is also read early,
straight from ``sys.argv`` (or ``LOCUST_SCENARIO``), by ``scenario_paths``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from harness.locust.shape_plan import SHAPES
from harness.options import (
    Option,
    OptionGroup,
    add_group,
    non_negative_int,
    output_folder,
    positive_int,
    timespan,
)
from harness.runtime.options import GROUPS, RUN, transport_groups

PER_USER = Option(
    "--conversations-per-user",
    "Each user stops after N conversations (default: until the run ends). With it, a run "
    "can finish every conversation instead of interrupting them, and it ends once every "
    "user is done.",
    parse=positive_int,
    metavar="N",
    env="LOCUST_CONVERSATIONS_PER_USER",
)

WORKER_REPORT_DIR = Option(
    "--worker-report-dir",
    "On a worker: keep its own report.json and transcripts too, in DIR/<worker id>/ (the "
    "master's --report-dir gets every worker's lines anyway).",
    env="CHATSTORM_WORKER_REPORT_DIR",
    parse=output_folder,
    metavar="DIR",
)

SHAPE_OPTIONS = OptionGroup(
    "chatstorm load shapes",
    "Users over time; the peak is -u/--users, the pace -r.",
    (
        Option("--shape", "steady, ramp, step, spike or soak (see README).", choices=SHAPES),
        Option(
            "--shape-duration",
            "How long the shape lasts, e.g. 10m (default: --run-time; soak: 1h).",
            parse=timespan,
            metavar="TIME",
        ),
        Option(
            "--shape-steps",
            "step: how many equal steps up to the peak (default 5).",
            default=5,
            parse=positive_int,
            metavar="N",
        ),
        Option(
            "--shape-baseline",
            "spike: users before and after the spike (default 0).",
            default=0,
            parse=non_negative_int,
            metavar="USERS",
        ),
        Option(
            "--shape-spike-length",
            "spike: how long the peak lasts (default 60s).",
            default="60s",
            parse=timespan,
            metavar="TIME",
        ),
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options with Locust's parser (``events.init_command_line_parser``)."""
    run = OptionGroup(RUN.title, RUN.description, (*RUN.options, PER_USER, WORKER_REPORT_DIR))
    for group in (run, *GROUPS[1:], *transport_groups(), SHAPE_OPTIONS):
        add_group(parser, group)
    # The web UI answers on this machine only unless told otherwise (--web-host, or
    # LOCUST_WEB_HOST as deploy/ sets it); elsewhere, put Locust's --web-login before it.
    parser.set_defaults(class_picker=True, web_host="127.0.0.1")


def scenario_paths(argv: Sequence[str], default: Path) -> list[str]:
    """The ``--scenario`` values given on the command line or in LOCUST_SCENARIO."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--scenario", action="append", default=None)
    known, _ = early.parse_known_args(list(argv))
    if known.scenario:
        return known.scenario
    from_env = os.environ.get("LOCUST_SCENARIO")
    if from_env:
        return [part for part in from_env.split(",") if part]
    return [str(default)]
