"""Wires chatstorm into Locust: options, one runtime per process, reports at test end.

``locustfiles/telegram.py`` calls ``install`` and exposes the User classes it returns.
"""

from __future__ import annotations

import functools
import gc
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gevent
import gevent.event
from locust import events
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from harness.coord.unavailable import RedisUnavailable
from harness.locust.options import add_arguments, scenario_paths
from harness.locust.runtime import RUN_BUDGET_SPENT, LocustRuntime
from harness.locust.shapes import ChatLoadShape, settings_from, shape_requested
from harness.locust.users import RUNTIMES, user_classes
from harness.locust.web import install_tabs
from harness.persona.services import preload_llm_sdk
from harness.report import prepare_report_dir, print_objectives, print_summary
from harness.scenario import Scenario, ScenarioError, load_scenarios
from harness.transport.registry import TRANSPORTS, choose_transport

GC_THRESHOLDS_UNDER_LOAD = (200_000, 50, 1_000)
WIRE_KEY = "chatstorm"  # our figures inside Locust's worker -> master stats message
log = logging.getLogger("chatstorm")


def _never_raises(listener: Callable[..., None]) -> Callable[..., None]:
    """A listener on Locust's stop path that fails says so in one line, and the stop goes
    on: Locust itself would print the traceback and turn the run's exit code into 2,
    whatever the objectives decided."""

    @functools.wraps(listener)
    def guarded(*args, **kwargs) -> None:
        try:
            listener(*args, **kwargs)
        except Exception as exc:
            what = listener.__name__.strip("_").replace("_", " ")
            log.error("chatstorm: %s failed (%s: %s)", what, type(exc).__name__, exc)

    return guarded


def install(default_scenarios: Path, argv: Sequence[str] | None = None) -> dict[str, type]:
    """Load the scenarios named on the command line, register the listeners, return the
    User classes (and the load shape, with --shape). Invalid scenarios stop Locust with
    every problem listed, file:line."""
    argv_used = sys.argv[1:] if argv is None else argv
    paths = scenario_paths(argv_used, default_scenarios)
    try:
        scenarios = load_scenarios(paths)
    except ScenarioError as exc:
        sys.stderr.write("".join(f"chatstorm: {problem}\n" for problem in exc.problems))
        raise SystemExit(2) from None
    _register(scenarios)
    classes: dict[str, type] = dict(user_classes(scenarios))
    if shape_requested(argv_used):
        classes["ChatLoadShape"] = ChatLoadShape
    return classes


INIT_WAIT_S = 120.0
"""A test that starts while the process is still in init waits this long for it."""


def _register(scenarios: list[Scenario]) -> None:
    state: dict[str, LocustRuntime] = {}
    # A worker that joins a running test gets its spawn message while it is still in
    # init (its imports yield): the test waits until the runtime exists.
    initialised = gevent.event.Event()

    @events.init_command_line_parser.add_listener
    def _options(parser, **_kwargs) -> None:
        add_arguments(parser)

    @events.init.add_listener
    def _init(environment: Environment, **_kwargs) -> None:
        options = environment.parsed_options
        problems = choose_transport(vars(options)).problems()
        if problems:
            sys.stderr.write("".join(f"chatstorm: {problem}\n" for problem in problems))
            raise SystemExit(2)
        if options.shape is not None and not isinstance(environment.runner, WorkerRunner):
            try:
                settings_from(options)
            except ValueError as exc:
                sys.stderr.write(f"chatstorm: {exc}\n")
                raise SystemExit(2) from None
        if options.report_dir:  # last: a run refused above leaves no folder behind
            try:
                prepare_report_dir(Path(options.report_dir))
            except OSError as exc:
                sys.stderr.write(f"chatstorm: {exc}\n")
                raise SystemExit(2) from None
        # In this, the main, thread: gevent's process machinery, which Telethon's first
        # import sets off, cannot start in the loop thread.
        TRANSPORTS[options.transport].preload()
        preload_llm_sdk(scenarios, judge=not options.no_judge)
        # Those imports hold the hub for up to two seconds: without this, Locust's -t timer,
        # set next against the hub's stale clock, fired that much early (a 2 s run ended
        # 0.2 s in, before any user started).
        gevent.get_hub().loop.update_now()
        runtime = LocustRuntime(environment, scenarios)
        if options.botapi_serve and not isinstance(environment.runner, WorkerRunner):
            try:
                runtime.serve_botapi()
            except (OSError, ValueError) as exc:
                sys.stderr.write(f"chatstorm: {exc}\n")
                runtime.shutdown()
                raise SystemExit(2) from None
        RUNTIMES[environment] = runtime
        state["runtime"] = runtime
        if isinstance(environment.runner, WorkerRunner):
            environment.runner.register_message(RUN_BUDGET_SPENT, runtime.on_run_budget_spent)
        if environment.web_ui is not None:
            install_tabs(environment.web_ui, runtime.live_view)
        initialised.set()

    @events.test_start.add_listener
    def _test_start(environment: Environment, **_kwargs) -> None:
        initialised.wait(INIT_WAIT_S)
        if not _is_master(environment):
            _pause_collector_while_spawning()
        try:
            RUNTIMES[environment].begin(runs_users=not _is_master(environment))
        except (RedisUnavailable, OSError, ValueError, gevent.Timeout) as exc:  # cannot start
            why = exc if not isinstance(exc, gevent.Timeout) else "opening the run timed out"
            sys.stderr.write(f"chatstorm: {why}\n")
            environment.process_exit_code = 2
            gevent.spawn(environment.runner.quit)

    @events.test_stopping.add_listener
    def _test_stopping(environment: Environment, **_kwargs) -> None:
        RUNTIMES[environment].stopping = True

    @events.test_stop.add_listener
    @_never_raises
    def _test_stop(environment: Environment, **_kwargs) -> None:
        gc.enable()  # a run stopped while it was still spawning
        runtime = RUNTIMES[environment]
        if _is_master(environment):  # every live worker's last lines and figures, bounded
            runtime.collect_finals()
            _conclude(environment, runtime)
            return
        try:
            runtime.settle()
        finally:  # the report, whatever the wind-down did
            _conclude(environment, runtime)
            runtime.concluded.set()  # the master may have its last figures now

    @events.spawning_complete.add_listener
    def _spawning_complete(user_count: int, **_kwargs) -> None:
        # Everything alive now lives for the whole run: move it out of the collector's way
        # and collect rarely. Most garbage dies by reference counting; at thousands of
        # users, the default thresholds ran a full collection every second, each stopping
        # the process for 100-200 ms. No collection before the freeze: it stopped the
        # process for about 100 ms just as the measured run begins; the little cyclic
        # garbage frozen with the rest costs memory, not time.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS_UNDER_LOAD)
        gc.enable()
        runtime = state.get("runtime")
        if runtime is None:
            return
        if runtime.environment.parsed_options.reset_stats:
            runtime.reset_figures()  # like Locust's own: the steady state, after that pause
        # The peak itself, not only the once-a-second samples: short peaks count too.
        runtime.quality.note_users(time.time(), user_count)

    @events.report_to_master.add_listener
    @_never_raises
    def _report_to_master(data: dict, **_kwargs) -> None:
        runtime = state.get("runtime")
        if runtime is not None:
            data[WIRE_KEY] = runtime.take_unsent()

    @events.worker_report.add_listener
    @_never_raises
    def _worker_report(client_id: str, data: dict, **_kwargs) -> None:
        runtime = state.get("runtime")
        if runtime is not None and WIRE_KEY in data:
            runtime.merge_worker_report(client_id, data[WIRE_KEY])

    @events.quitting.add_listener
    @_never_raises
    def _quitting(environment: Environment, **_kwargs) -> None:
        """SIGTERM comes here first, before Locust stops the test: stop it now, so a
        master still collects its workers' last figures (and concludes once, with the
        exit code of that report) and a worker sends them."""
        runtime = RUNTIMES[environment]
        runner = environment.runner
        if runtime.worker_link is not None:
            runtime.worker_link.finish()
            return
        if not _is_master(environment) or runtime.report is not None:
            return
        if runner.state not in (STATE_INIT, STATE_STOPPED, STATE_STOPPING):
            runner.stop(send_stop_to_client=False)  # test_stop: the finals, the report
        if runtime.report is None:
            _conclude(environment, runtime)

    @events.quit.add_listener
    @_never_raises
    def _quit(**_kwargs) -> None:
        runtime = state.get("runtime")
        if runtime is None:
            return
        try:
            if _is_master(runtime.environment) and runtime.report is None:
                _conclude(runtime.environment, runtime)
        finally:
            runtime.shutdown()
        if runtime.report is None or isinstance(runtime.environment.runner, WorkerRunner):
            return
        print_summary(runtime.report)
        print_objectives(runtime.slo_results)


def _pause_collector_while_spawning() -> None:
    """No garbage collection while users spawn. The heap grows by a quarter again and
    again as users start, and each time the collector walked all of it: full collections
    of 50-150 ms, the last ones just as the measured run began (their delayed replies
    were counted in it). What exists at test start is collected (once, before any user
    runs) and frozen; spawning_complete freezes the rest and collects again."""
    gc.collect()
    gc.freeze()
    gc.disable()


def _is_master(environment: Environment) -> bool:
    return isinstance(environment.runner, MasterRunner)


def _conclude(environment: Environment, runtime: LocustRuntime) -> None:
    """Build (and write) the report; declared objectives decide the exit code."""
    runner = environment.runner
    workers = len(runtime.workers_reported) if isinstance(runner, MasterRunner) else None
    exit_code = runtime.finish_report(users=runner.target_user_count, workers=workers).exit_code
    if exit_code is None or isinstance(runner, WorkerRunner):
        return
    if environment.process_exit_code is None:  # a run that could not start said 2 already
        environment.process_exit_code = exit_code
