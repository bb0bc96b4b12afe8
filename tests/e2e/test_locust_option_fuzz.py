"""Every option chatstorm adds to Locust, given bad values of its kind, through Locust's
real ``main()``: its parser (with chatstorm's options, from the locustfile's hook) and
chatstorm's init hooks. Each must end with exit code 2 and one line (Locust's own log
lines apart) naming the option or the cause, no traceback, no secret, nothing written,
within a second of CPU on top of Locust's imports.

One Locust process imports everything once and forks a child per case
(``probes/option_probe.py``): ~100 cases in a few seconds instead of ~100 processes.
The cold start every real run pays on top (Locust's and chatstorm's imports) is
measured there too; ``test_locust_run.py`` runs a few cases as separate processes.

The options come from Locust's parser: one chatstorm adds without a case here (or a
reason in ``FREE_TEXT``) fails the test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.bad_options import FREE_TEXT, RUN, Case, bad_inputs, filled, one_line_error
from tests.support.locust_runs import LOCUSTFILE, REPO

PROBE = Path(__file__).parent / "probes" / "option_probe.py"
CPU_S = 1.0
"""What a refused case may cost past the imports; Locust's and chatstorm's imports, which
every run pays before it reads an option (about 0.8 s of CPU on the 2-core machine, more
on a busy one), are printed, not bounded: what chatstorm imports is held light by
tests/integration/test_imports.py."""
HEADLESS = ("--headless", "-u", "1", "-r", "1", "-t", "1s", "--scenario", "{scenarios}")

LOCUST_ONLY: dict[str, list[Case]] = {
    "--conversations-per-user": [
        (("--conversations-per-user", "0"), "must be from 1"),
        (("--conversations-per-user", "a few"), "not a whole number"),
        (("--conversations-per-user", "1" * 30), "1,000,000"),
    ],
    "--worker-report-dir": [
        (("--worker-report-dir", "{file}"), "is a file, not a folder"),
        (("--worker-report-dir", "{file}/fleet"), "{file} is a file, not a folder"),
    ],
    "--shape": [(("--shape", "zigzag"), "invalid choice: 'zigzag'")],
    "--shape-duration": [
        (("--shape", "ramp", "--shape-duration=-5s"), "is not a duration"),
        (("--shape", "ramp", "--shape-duration", "soon"), "is not a duration"),
        (("--shape", "ramp", "--shape-duration", "0"), "longer than 0 seconds"),
        (("--shape", "ramp", "-t", "0"), "--shape ramp needs --shape-duration or --run-time"),
    ],
    "--shape-steps": [(("--shape", "step", "--shape-steps", "0"), "must be from 1")],
    "--shape-baseline": [(("--shape", "spike", "--shape-baseline", "-3"), "must be from 0")],
    "--shape-spike-length": [
        (("--shape", "spike", "--shape-spike-length", "forever"), "is not a duration"),
        (
            ("--shape", "spike", "--shape-duration", "10s", "--shape-spike-length", "20s"),
            "--shape-spike-length must be shorter",
        ),
    ],
}
"""The options only Locust runs take."""

FROM_ENV: list[tuple[dict[str, str], str]] = [
    ({"LOCUST_TIME_SCALE": "nan"}, "argument --time-scale: must be a finite number"),
    ({"LOCUST_TRANSPORT": "smoke-signals"}, "invalid choice: 'smoke-signals'"),
    ({"REDIS_URL": "ftp://127.0.0.1"}, "argument --redis-url: expected redis://"),
    ({"CHATSTORM_LEASE_TTL": "-1"}, "argument --lease-ttl: must be greater than 0"),
    ({"LOCUST_AGENT_LOG": "{file}/log.jsonl"}, "{file} is a file, not a folder"),
]
"""The same checks, for values from the environment (as the deploy manifests set them)."""


def _cases() -> list[tuple[str, list[str], dict[str, str], str]]:
    """(what, argv template, environment template, the error's fragment)."""
    cases = [
        (option, [*HEADLESS, *args], {}, said)
        for option, found in (RUN | LOCUST_ONLY).items()
        for args, said in found
    ]
    cases.extend((f"env {env}", list(HEADLESS), env, said) for env, said in FROM_ENV)
    return cases


def _tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def test_every_chatstorm_option_of_locust_refuses_bad_values_in_one_line(tmp_path):
    files = bad_inputs(tmp_path)
    cases = _cases()
    asked = {
        "locustfile": str(LOCUSTFILE),
        "scenarios": files["scenarios"],
        "cases": [
            {
                "argv": filled(tuple(argv), files),
                "env": {k: v.format(**files) for k, v in e.items()},
            }
            for _, argv, e, _ in cases
        ],
    }
    before = _tree(tmp_path)
    probe = subprocess.run(
        [sys.executable, str(PROBE)],
        input=json.dumps(asked),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    answer = json.loads(probe.stdout)
    covered = set(RUN) | set(LOCUST_ONLY) | set(FREE_TEXT)
    assert set(answer["options"]) == covered
    for (what, argv, _, said), result in zip(cases, answer["results"], strict=True):
        assert result["code"] == 2, (what, argv, result)
        assert "Traceback" not in result["stderr"] + result["stdout"], (what, result)
        one_line_error(result["stderr"], said, files)
        assert result["cpu_s"] < CPU_S, (what, result["cpu_s"])
    assert _tree(tmp_path) == before  # nothing created, not even an empty report folder
    slowest = max(result["cpu_s"] for result in answer["results"])
    print(
        f"{len(cases)} cases: Locust's imports {answer['import_cpu_s']:.2f} s CPU, "
        f"then at most {slowest:.3f} s per case"
    )
