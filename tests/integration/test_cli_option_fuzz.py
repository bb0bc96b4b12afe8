"""Every option of every ``harness`` command, given bad values of its kind (URLs,
ports, durations, numbers, paths that do not exist or cannot be written, accounts files
with garbage lines): exit code 2, one line naming the option or the cause and where to
look, no traceback, no secret, nothing written, within a second of CPU each.

The options come from the parsers themselves: a new option without a bad-value case
(or a reason in ``FREE_TEXT``) fails ``test_every_option_has_bad_values``. Commands run
in process, as ``harness`` would run them (Typer's runner, ``prog_name="harness"``)."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harness.cli.main import app
from harness.cli.run import parser
from tests.support.bad_options import (
    FREE_TEXT,
    RUN,
    SECRET,
    Case,
    bad_inputs,
    filled,
    one_line_error,
)

CPU_S = 1.0
DEAD_REDIS = ("--redis-url", "redis://127.0.0.1:1/0")
LOGIN = ("--api-id", "1", "--api-hash", "h", "--pool", *DEAD_REDIS)
GENERATE = ("--scenario", "{scenarios}", "--out", "{missing}/out.jsonl")
REGRADE = ("{scenarios}", "{scenarios}")
ON_FILE = "{file} is a file, not a folder"

FUNCTIONAL: dict[str, list[Case]] = {
    "PATHS": [(("{missing}",), "{missing}:1: (file): no such file or folder")],
    "--suite": [(("--suite", "nope"), "no such suite; known:")],
    "--matrix": [
        (("--matrix", "{binary}"), "{binary}:1"),
        (("--matrix", "{missing}"), "cannot read it"),
    ],
    "--max-combinations": [(("--max-combinations", "0"), "must be from 1")],
    "--repeat": [
        (("--repeat", "0"), "must be from 1"),
        (("--repeat", "10000000000000000000000"), "1,000,000"),
        (("--repeat", "2.5"), "not a whole number"),
    ],
    "--concurrency": [(("--concurrency", "-4"), "must be from 1")],
    "--baseline": [
        (("--baseline", "{missing}"), "cannot read the baseline"),
        (("--baseline", "{binary}"), "is not a chatstorm report.json"),
        (("--baseline", "{scenarios}"), "Is a directory"),
    ],
    "--fail-on-regression": [(("--fail-on-regression=yes",), "--fail-on-regression")],
    "--regression-tolerance": [
        (("--regression-tolerance", "speed=1"), "write FIGURE=TOLERANCE"),
        (("--regression-tolerance", "first_reply_p95_ms=nan"), "finite"),
        (("--regression-tolerance", "first_reply_p95_ms=-0.5"), "must be 0 or more"),
    ],
    "--min-success-rate": [
        (("--min-success-rate", "2"), "between 0 and 1"),
        (("--min-success-rate", "nan"), "finite"),
        (("--min-success-rate", "most"), "not a number"),
    ],
}
"""``harness run``'s own options; the others are the run's (``RUN``)."""

COMMANDS: dict[tuple[str, str], list[Case]] = {
    ("botapi serve", "--host"): [(("--host", "not a host"), "not a host name or IP address")],
    ("botapi serve", "--port"): [
        (("--port", "99999"), "must be from 0 to 65,535"),
        (("--port", "-1"), "must be from 0"),
        (("--port", "http"), "not a whole number"),
    ],
    ("botapi serve", "--state"): [
        (("--state", "{file}/state.json"), ON_FILE),
        (("--state", "{scenarios}"), "is a folder, not a file"),
    ],
    ("botapi serve", "--telegram-limits"): [(("--telegram-limits=1",), "does not take a value")],
    ("botapi serve", "--link-token"): [
        (("--host", "0.0.0.0", "--port", "0"), "give the harness link a token (--link-token")
    ],
    ("accounts import", "PATH"): [
        (("{missing}", *DEAD_REDIS), "No such file or directory"),
        (("{binary}", *DEAD_REDIS), "not UTF-8"),
        (("{empty}", *DEAD_REDIS), "holds no session"),
        (("{scenarios}", *DEAD_REDIS), "Is a directory"),
    ],
    ("accounts remove", "ACCOUNT_ID"): [((*DEAD_REDIS,), "Missing argument")],
    ("login", "--api-id"): [
        (("--api-id", "x", "--api-hash", "h", "--pool"), "not a whole number"),
        (("--api-id", "0", "--api-hash", "h", "--pool"), "must be from 1"),
    ],
    ("login", "--out"): [
        ((*LOGIN, "--out", "{file}/sessions.txt"), ON_FILE),
        ((*LOGIN, "--out", "{scenarios}"), "is a folder, not a file"),
    ],
    ("login", "--pool"): [((*LOGIN, "--pool=yes"), "does not take a value")],
    ("login", "--test-dc"): [((*LOGIN, "--test-dc=2"), "does not take a value")],
    ("login", "--server"): [
        ((*LOGIN, "--server", "localhost"), "is not HOST:PORT"),
        ((*LOGIN, "--server", "127.0.0.1:70000"), "must be from 1 to 65,535"),
        ((*LOGIN, "--server", "127.0.0.1:0"), "must be from 1"),
    ],
    ("generate", "--scenario"): [
        (("--scenario", "{missing}", "--out", "{missing}/o"), "no such file or folder")
    ],
    ("generate", "--out"): [
        (("--scenario", "{scenarios}", "--out", "{file}/o.jsonl"), ON_FILE),
        (("--scenario", "{scenarios}", "--out", "{scenarios}"), "is a folder, not a file"),
    ],
    ("generate", "--count"): [((*GENERATE, "--count", "0"), "must be from 1")],
    ("generate", "--name"): [((*GENERATE, "--name", "Nope"), "choose one scenario with --name")],
    ("generate", "--time-scale"): [((*GENERATE, "--time-scale", "inf"), "finite")],
    ("generate", "--parallel"): [((*GENERATE, "--parallel", "many"), "not a whole number")],
    ("generate", "--llm-base-url"): [((*GENERATE, "--llm-base-url", "localhost"), "http://")],
    ("generate", "--llm-cache-dir"): [((*GENERATE, "--llm-cache-dir", "{file}"), "not a folder")],
    ("generate", "--redis-url"): [((*GENERATE, "--redis-url", "http://x"), "expected redis://")],
    ("generate", "--llm-budget-usd"): [((*GENERATE, "--llm-budget-usd", "-1"), "greater than 0")],
    ("generate", "--llm-max-retries"): [((*GENERATE, "--llm-max-retries", "-2"), "from 0")],
    ("import", "SOURCE"): [
        (("{binary}", "--out", "{missing}/o"), "cannot read it"),
        (("{half}", "--out", "{missing}/o"), "{half}:1: not valid JSON"),
        (("{empty}", "--out", "{missing}/o"), "no messages in the file"),
        (("{missing}", "--out", "{missing}/o"), "cannot read it"),
    ],
    ("import", "--out"): [(("{half}", "--out", "{file}/o.jsonl"), ON_FILE)],
    ("regrade", "FOLDER"): [
        (("{file}", "{scenarios}"), "regrading needs a run's report folder"),
        (("{missing}", "{scenarios}"), "regrading needs a run's report folder"),
        (("{scenarios}", "{scenarios}"), "report.json is missing"),
    ],
    ("regrade", "SCENARIOS"): [(("{scenarios}", "{missing}"), "no such file or folder")],
    ("regrade", "--no-judge"): [((*REGRADE, "--no-judge=1"), "does not take a value")],
    ("regrade", "--llm-base-url"): [((*REGRADE, "--llm-base-url", "ftp://x"), "http://")],
    ("regrade", "--llm-cache-dir"): [((*REGRADE, "--llm-cache-dir", "{file}/c"), ON_FILE)],
    ("regrade", "--llm-budget-usd"): [((*REGRADE, "--llm-budget-usd", "nan"), "finite")],
    ("report", "FOLDER"): [
        (("{file}",), "{file}/report.json does not exist: give the --report-dir"),
        (("{missing}",), "{missing}/report.json does not exist"),
        (("{scenarios}",), "report.json does not exist"),
    ],
    ("validate", "PATHS"): [
        (("{missing}",), "{missing}:1: (file): no such file or folder"),
        (("{binary}",), "{binary}:1"),
    ],
    ("schema", "--report"): [(("--report=yes",), "does not take a value")],
}
"""Every other command's options (``--redis-url`` and ``--prefix`` of ``accounts``,
shared by its commands and ``login``, are in ``SHARED``)."""

SHARED: dict[str, list[Case]] = {
    "--redis-url": [
        (("--redis-url", "ftp://127.0.0.1"), "expected redis://"),
        (("--redis-url", f"redis://:{SECRET}@127.0.0.1:99999/0"), "port must be a number"),
    ],
    "--prefix": [(("--prefix", "two words", *DEAD_REDIS), "without spaces")],
}
SHARED_BY = {
    "accounts add": (),
    "accounts import": ("{empty}",),
    "accounts list": (),
    "accounts remove": ("some-id",),
    "login": LOGIN[:4],
}

COMMAND_FREE_TEXT = {
    ("accounts add", "--phone"): "any text: only its digits are kept",
    ("accounts add", "--label"): "a name to recognise the account by",
    ("login", "--phone"): "any text: Telegram judges the number",
    ("login", "--api-hash"): FREE_TEXT["--api-hash"],
    ("login", "--label"): "a name to recognise the account by",
    ("generate", "--seed"): FREE_TEXT["--seed"],
    ("import", "--scenario"): "the name to tag conversations with",
}


def _run_cases() -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (option, args, said) for option, cases in (RUN | FUNCTIONAL).items() for args, said in cases
    ]


def _command_cases() -> list[tuple[str, str, tuple[str, ...], str]]:
    cases = [
        (command, option, args, said)
        for (command, option), found in COMMANDS.items()
        for args, said in found
    ]
    for option, found in SHARED.items():
        for command, before in SHARED_BY.items():
            cases.extend((command, option, (*before, *args), said) for args, said in found)
    return cases


def _parsed_options() -> set[tuple[str, str]]:
    """Every (command, option) the parsers know: Typer's for each command, and
    ``harness run``'s own parser (its options are the locustfile's and its own)."""
    found = set()

    def walk(command, path: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())
        for param in getattr(command, "params", []):
            if param.param_type_name == "argument":
                found.add((path, param.name.upper()))
            else:
                found.add((path, next(o for o in param.opts if o.startswith("--"))))

    walk(typer.main.get_command(app), "")
    for action in parser()._actions:
        names = [o for o in action.option_strings if o.startswith("--")] or ["PATHS"]
        found.add(("run", names[0]))
    return found - {("run", "--help")}


def test_every_option_has_bad_values():
    covered = {("run", option) for option, _, _ in _run_cases()}
    covered |= {("run", option) for option in FREE_TEXT}
    covered |= {(command, option) for command, option, _, _ in _command_cases()}
    covered |= set(COMMAND_FREE_TEXT)
    assert _parsed_options() == covered


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    return bad_inputs(tmp_path_factory.mktemp("bad"))


def _tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def _refused(argv: list[str], said: str, files: dict[str, str]) -> float:
    """Runs ``harness ARGV``; the CPU seconds it took, once it is known to have been
    refused properly (and to have left every file as it was)."""
    before = _tree(Path(files["scenarios"]).parent)
    started = time.process_time()
    result = CliRunner().invoke(app, argv, prog_name="harness")
    cpu = time.process_time() - started
    assert result.exit_code == 2, (argv, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), argv
    assert "Traceback" not in result.output
    one_line_error(result.stderr, said, files)
    assert _tree(Path(files["scenarios"]).parent) == before
    assert cpu < CPU_S, (argv, cpu)
    return cpu


@pytest.mark.parametrize(("option", "args", "said"), _run_cases())
def test_harness_run_refuses_bad_values(files, option, args, said):
    scenarios = () if option in ("PATHS", "--scenario", "--suite", "--matrix") else ("{scenarios}",)
    argv = filled(("--time-scale", "0.01", *scenarios, *args), files)  # the last one counts
    _refused(["run", *argv], said, files)


@pytest.mark.parametrize(("command", "option", "args", "said"), _command_cases())
def test_every_command_refuses_bad_values(files, command, option, args, said):
    _refused([*command.split(), *filled(args, files)], said, files)


TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["nan", "-inf", "1e309", "-0", "0", "1" * 40, "0x10", "1_000", " 7 ", ""]),
    st.builds(
        lambda scheme, host, port: f"{scheme}{host}:{port}",
        st.sampled_from(["http://", "https://", "redis://", "ftp://", "unix://", "", "//"]),
        st.sampled_from(["127.0.0.1", "", "a b", "[::1]", "\x00", "é.example", f":{SECRET}@h"]),
        st.sampled_from(["1", "99999", "-1", "x", "", "65535"]),
    ),
)
PATHS = st.sampled_from(["{file}/x", "{binary}", "{scenarios}", "{missing}/a/b", "{empty}"])
VALUES = st.one_of(TEXTS.map(lambda text: (text, False)), PATHS.map(lambda path: (path, True)))
VALUED = sorted(
    option
    for action in parser()._actions
    if action.type is not None
    for option in action.option_strings
    if option.startswith("--")
)


@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(option=st.sampled_from(VALUED), value=VALUES)
def test_any_value_of_a_checked_option_parses_or_is_one_line(files, option, value):
    """Generated values for every option with a check: each is taken or refused in
    one line by the parser (the same checks serve the locustfile and every command),
    never an exception, never a secret repeated."""
    template, is_path = value
    is_url = option.endswith("-url")  # the others may repeat a value: it is not a secret
    text = template.format(**files) if is_path else template
    err = io.StringIO()
    started = time.process_time()
    with contextlib.redirect_stderr(err):
        try:
            parser().parse_args([f"{option}={text}"])
        except SystemExit as exited:
            assert exited.code == 2
            line = one_line_error(err.getvalue(), f"argument {option}", files, quiet=is_url)
            assert line.endswith("(see `harness run --help`)")
    assert time.process_time() - started < CPU_S


def test_no_command_is_the_help_not_an_error():
    result = CliRunner().invoke(app, [], prog_name="harness")
    assert result.exit_code == 2
    assert "Usage: harness [OPTIONS] COMMAND" in result.output
    assert "(see `harness --help`)" not in result.output
