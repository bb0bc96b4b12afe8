# ruff: noqa: I001  (locust must be imported first: it monkey-patches the process)
"""Locust's own ``main()``, once per case, each in a child forked from this process.

Locust and chatstorm are imported once, here; each child then runs the whole of what a
``locust -f locustfiles/telegram.py ...`` run does after its imports: the locustfile
loaded, Locust's real parser (with chatstorm's options, from its hook), chatstorm's
init hooks. So hundreds of cases cost a second each less than as many processes, and a
child's CPU time is exactly what a case adds to Locust's import cost (measured too).

Reads ``{"locustfile", "cases": [{"argv", "env"}], "scenarios"}`` as JSON on stdin;
prints ``{"import_cpu_s", "results": [{"code", "stdout", "stderr", "cpu_s"}],
"options"}``, ``options`` being every option chatstorm adds to Locust's parser.
"""

import time

STARTED = time.process_time()

import locust.main  # noqa: E402  (monkey-patches everything, as in a real Locust process)

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402

from locust.argument_parser import get_empty_argument_parser, get_parser  # noqa: E402
from locust.argument_parser import setup_parser_arguments  # noqa: E402
from locust.util.load_locustfile import load_locustfile  # noqa: E402

import harness.locust.plugin  # noqa: E402, F401  (what the locustfile imports)

IMPORT_CPU_S = time.process_time() - STARTED
CASE_LIMIT_S = 20
"""A case that is not refused runs its -t 1s test; one that hangs is killed after this."""


def run_case(locustfile: str, argv: list[str], env: dict[str, str]) -> dict:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            _child(locustfile, argv, env, out.fileno(), err.fileno())
        _, status, usage = os.wait4(pid, 0)
        out.seek(0)
        err.seek(0)
        return {
            "code": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }


def _child(locustfile: str, argv: list[str], env: dict[str, str], out: int, err: int) -> None:
    """Locust's main() as ``locust -f LOCUSTFILE ARGV`` would run it, its exit code the
    interpreter's: an uncaught exception prints its traceback and exits 1."""
    signal.alarm(CASE_LIMIT_S)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.environ.update(env)
    sys.argv = ["locust", "-f", locustfile, *argv]
    code = 1
    try:
        locust.main.main()
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def chatstorm_options(locustfile: str, scenarios: str) -> list[str]:
    """The options Locust's parser has once the locustfile is loaded, less its own."""
    sys.argv = ["locust", "--scenario", scenarios]
    load_locustfile(locustfile)
    own = get_empty_argument_parser()
    setup_parser_arguments(own)

    def names(parser) -> set[str]:
        return {name for action in parser._actions for name in action.option_strings}

    return sorted(names(get_parser()) - names(own))


def main() -> None:
    asked = json.load(sys.stdin)
    results = [run_case(asked["locustfile"], c["argv"], c["env"]) for c in asked["cases"]]
    options = chatstorm_options(asked["locustfile"], asked["scenarios"])
    print(json.dumps({"import_cpu_s": IMPORT_CPU_S, "results": results, "options": options}))


main()
