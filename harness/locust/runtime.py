"""The harness inside one Locust process: the Locust side of its run.

The process's run itself (transport, personas, conversations, the bounded wind-down,
the report) is ``harness.runtime``'s, on the loop thread; this adapter starts
conversations for Locust's users, drains their records, in batches, into Locust's
request events and the Recorder, and does what only a Locust process does: workers'
figures for the master, the fleet-wide LLM budget, the live view. Every figure is
timestamped on the asyncio side.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.runners import STATE_RUNNING, MasterRunner, Runner, WorkerRunner

from harness.clock import Clock
from harness.conversation import (
    ConversationResult,
    TranscriptEntry,
)
from harness.files import LineFile, LineSink, LineTee
from harness.locust.fleet import MasterLink, WorkerLink
from harness.locust.loop_thread import LoopThread, Submission
from harness.locust.observers import Handoff, LocustObserver
from harness.locust.stats_trim import KEEP_S, ChartHistory, forget_old_seconds, stop_row_copies
from harness.metrics import RunStats, ScenarioStats
from harness.metrics.burst import BurstMeasurement
from harness.metrics.loop_lag import WINDOW_S, LoopLagFigures, LoopLagMonitor
from harness.metrics.quality import QualityTimeline
from harness.prices import usd
from harness.report import CONVERSATIONS_FILE, TRANSCRIPT_FILE, Recorder, SloResult
from harness.report.model import Fleet, LiveView, Report
from harness.runtime import Conclusion, ProcessRuntime, RunSettings, conclude
from harness.runtime.bounds import say_ran_out
from harness.runtime.heap import give_back_freed_memory
from harness.runtime.options import run_settings
from harness.runtime.process import new_run_id
from harness.scenario import Scenario
from harness.verdicts import Judgment

log = logging.getLogger("chatstorm")
# The stop path is bounded, so a run ends within seconds of -t whatever the network does:
# conversations get SETTLE_TIMEOUT_S to take their cancellation, and closing the
# transport, the emulator, the persona services and the loop share SHUTDOWN_TIMEOUT_S.
SETTLE_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0
FINAL_WAIT_S = SETTLE_TIMEOUT_S + 5.0
"""How long a master waits for its workers' last figures: their wind-down, and a margin."""
RUN_BUDGET_SPENT = "chatstorm_llm_budget_spent"  # master -> workers: stop asking the LLM
OPEN_TIMEOUT_S = 60.0  # connecting to Redis and checking accounts
RECENT_LINES = 60  # transcript lines the web UI shows


@dataclass
class Unsent:
    """What a worker has recorded and not yet sent its master. It keeps its own figures
    (for its own report) and these beside them; each report to the master takes them and
    starts afresh, so the master adds every figure exactly once."""

    stats: RunStats = field(default_factory=RunStats)
    loop_lag: LoopLagFigures = field(default_factory=LoopLagFigures)
    quality: QualityTimeline = field(default_factory=QualityTimeline)
    recent: deque[TranscriptEntry] = field(default_factory=lambda: deque(maxlen=RECENT_LINES))


class LocustRuntime:
    def __init__(self, environment: Environment, scenarios: list[Scenario]) -> None:
        options = environment.parsed_options
        self.environment = environment
        runner = environment.runner
        self.is_worker = isinstance(runner, WorkerRunner)
        # Read now: the master's options overwrite a worker's at its first spawn.
        own_folder = options.worker_report_dir if self.is_worker else options.report_dir
        report_dir = Path(own_folder) if own_folder else None
        if report_dir is not None and self.is_worker:  # workers may share it (--processes)
            report_dir = report_dir / runner.client_id
        self.settings: RunSettings = run_settings(vars(options), report_dir)
        self._run_id_given: str | None = options.run_id
        if self.is_worker:  # a file named on the command line is each worker's own
            self.settings = dataclasses.replace(self.settings, process=runner.client_id)
        self.process = ProcessRuntime(self.settings, scenarios)
        self.scenarios = self.process.scenarios
        self.clock = self.process.clock
        self.conversations_per_user: int | None = options.conversations_per_user
        self.loop_lag = LoopLagFigures()
        self.unsent: Unsent | None = Unsent() if self.is_worker else None
        self._lag_monitor: LoopLagMonitor | None = None
        self._figures_since = 0.0
        self.stopping = False
        self.quality = QualityTimeline()
        self._user_sampler: gevent.Greenlet | None = None
        self.users_seen = False
        """This test's users have been counted (a master: its workers have reported some):
        only then does a count of none mean they are done."""
        self.chart_history = ChartHistory()
        """Locust's chart points, held evenly spaced on long runs."""
        self.active: Counter[str] = Counter()
        self.active_by_worker: dict[str, dict[str, int]] = {}
        self.recent: deque[TranscriptEntry | dict] = deque(maxlen=RECENT_LINES)
        self.workers_reported: set[str] = set()
        self._run_budget_spent_sent = False
        self.slo_results: list[SloResult] = []
        self.loop = LoopThread()
        self.recorder = Recorder()
        self.report: Report | None = None
        self._opened = False
        self._serial = itertools.count(1)
        self._gevent_side = LocustObserver(self)
        self._loop_side = Handoff(self.loop, self._gevent_side)
        # Conversation ids are unique across the fleet: in containers every worker's
        # Locust is the same pid, so a worker's index comes first.
        self._worker_index = getattr(runner, "worker_index", 0)
        pid = os.getpid()
        self._process_tag = f"w{self._worker_index}.{pid}" if self.is_worker else str(pid)
        self.concluded = Event()
        """A worker has concluded its test (its master may ask for its last figures)."""
        self.worker_link: WorkerLink | None = None
        self.master_link: MasterLink | None = None
        if isinstance(runner, WorkerRunner):
            self.worker_link = WorkerLink(runner, self.concluded, self.take_unsent, FINAL_WAIT_S)
        elif isinstance(runner, MasterRunner):
            self.master_link = MasterLink(runner, {}, self.merge_worker_report)

    def serve_botapi(self) -> None:
        """--botapi-serve: the Bot API emulator runs on this process's event loop, at
        --botapi-url, for this process's users and every worker's."""
        botapi = self.settings.transport.settings
        url = botapi.emulator_url
        self.loop.start()
        serve = partial(
            self.process.serve_botapi, url, botapi.state, botapi.telegram_limits, botapi.link_token
        )
        self.loop.submit(serve).wait(timeout=OPEN_TIMEOUT_S)
        log.info("chatstorm: Bot API emulator serving at %s", url)

    def begin(self, runs_users: bool) -> None:
        """A test starts: fresh figures and transcript. A process that runs users (not a
        master) starts its loop and transport on first use."""
        self.recorder.close()
        self._settle_identity()
        if self.worker_link is not None:  # before the recorder's channels into it
            self.worker_link.restart(self.settings.run_id)
        # A run's bound, the master's on a worker (its spawn message brought its options).
        self.conversations_per_user = self.environment.parsed_options.conversations_per_user
        self.concluded.clear()
        self.stopping = False
        self.users_seen = False
        self.active.clear()  # a user stopped before its conversation began never ended one
        self._gevent_side.ignoring_ends = False
        self._fresh_process_figures()
        self.process.timeline.restart()
        transcript, conversations = self._line_sinks()
        self.recorder = Recorder(
            transcript,
            mirror=self.unsent.stats if self.unsent is not None else None,
            timeline=self.process.timeline,
            conversations=conversations,
            run_id=self.settings.run_id,
        )
        if self.master_link is not None:
            self.master_link.replace_sinks(self.recorder.line_sinks(), self.settings.run_id)
            self.workers_reported.clear()  # this test's workers, from now
        self.report = None
        if self._user_sampler is None:
            self._user_sampler = gevent.spawn(self._sample_users)
        if runs_users and not self._opened:  # the loop may run already (--botapi-serve)
            self.loop.start()
            self.loop.submit(self.process.open).wait(timeout=OPEN_TIMEOUT_S)
            self._opened = True
            self._lag_monitor = LoopLagMonitor(self._post_lag, self._post_overload)
            self.loop.submit(self._lag_monitor.run)

    def _settle_identity(self) -> None:
        """The run's id and this process's seed stream. A master (or a lone process) names
        the test, and its workers get the name with their spawn message; each worker draws
        from its own stream of the seed, so no two workers repeat each other."""
        options = self.environment.parsed_options
        if self.is_worker:
            run_id = options.run_id or self.settings.run_id
            seed = f"{options.seed or self.settings.seed}/worker-{self._worker_index}"
        else:
            run_id = self._run_id_given or new_run_id()
            options.run_id = run_id  # what the spawn messages carry to the workers
            seed = self.settings.seed
        self.settings = dataclasses.replace(self.settings, run_id=run_id, seed=seed)
        self.process.settings = self.settings

    def _line_sinks(self) -> tuple[LineSink | None, LineSink | None]:
        """Where transcript and verdict lines go: the run's files on a master or a lone
        process; on a worker, its master (when the master writes them) and its own
        folder (with --worker-report-dir)."""
        judged = any(scenario.judged for scenario in self.scenarios.values())
        if not self.is_worker:
            folder = self.settings.report_dir
            writes = self.settings.writes_transcripts
            return (
                folder / TRANSCRIPT_FILE if writes and folder else None,
                folder / CONVERSATIONS_FILE if folder and judged else None,
            )
        assert self.worker_link is not None
        master = self.environment.parsed_options  # the master's, since its spawn message
        outbox = self.worker_link.outbox
        folder = self.settings.report_dir
        transcript = _both(
            outbox.channel("transcript")
            if master.report_dir and not master.no_transcripts
            else None,
            LineFile(folder / TRANSCRIPT_FILE) if folder and self.settings.transcripts else None,
        )
        conversations = _both(
            outbox.channel("conversations") if master.report_dir and judged else None,
            LineFile(folder / CONVERSATIONS_FILE) if folder and judged else None,
        )
        return transcript, conversations

    def reset_figures(self) -> None:
        """Start the figures afresh (--reset-stats, once all users have spawned)."""
        self.recorder.stats = RunStats()
        self._fresh_process_figures()
        self.recorder.replace_mirror(self.unsent.stats if self.unsent is not None else None)
        self._figures_since = Clock.now()

    def _fresh_process_figures(self) -> None:
        """The figures kept beside the Recorder's (loop lag, quality under load) and, on a
        worker, what it owes its master (the transcript lines it has not sent go on)."""
        self.loop_lag = LoopLagFigures()
        self.quality = QualityTimeline()
        if self.unsent is not None:
            self.unsent = Unsent(recent=self.unsent.recent)

    def _sample_users(self) -> None:
        """Note, every second, how many users this process (a master: the fleet) runs,
        and end the run once every user has held its conversations; every minute, hold
        what Locust keeps for the whole run to its bounds (harness/locust/stats_trim.py)
        and give the heap's free pages back (harness/runtime/heap.py)."""
        for tick in itertools.count(1):
            runner = self.environment.runner
            if runner is not None:
                self.quality.note_users(time.time(), runner.user_count)
                self.users_seen = self.users_seen or runner.user_count > 0
                if self._every_user_is_done(runner):
                    self._end_the_run(runner)
                if tick % KEEP_S == 0:
                    forget_old_seconds(runner.stats, time.time())
                    if not self.environment.parsed_options.stats_history_enabled:
                        stop_row_copies(runner.stats)
                    self.chart_history.thin(runner.stats)
                    gevent.get_hub().threadpool.spawn(give_back_freed_memory)
            gevent.sleep(1)

    def _every_user_is_done(self, runner: Runner) -> bool:
        """With --conversations-per-user, every user has held its N and stopped: the
        fleet's count, on a master, once its workers have reported users (they report
        none until their test has started, which may take a while). A load shape decides
        its own users, and an end."""
        return (
            self.conversations_per_user is not None
            and not self.is_worker
            and self.environment.shape_class is None
            and runner.state == STATE_RUNNING
            and self.users_seen
            and runner.user_count == 0
        )

    def _end_the_run(self, runner: Runner) -> None:
        """As the time limit would: a headless run quits, one in the web UI stops (the
        UI stays up to read, and to start another; Locust counts --autoquit from -t)."""
        limit = self.conversations_per_user
        log.info("every user held its %d conversation(s): the run ends", limit)
        headless = self.environment.parsed_options.headless
        gevent.spawn(runner.quit if headless else runner.stop)

    def record_quality(self, burst: BurstMeasurement) -> None:
        now = time.time()
        self.quality.add_burst(now, burst)
        if self.unsent is not None:
            self.unsent.quality.add_burst(now, burst)

    def record_judgment(self, judgment: Judgment) -> None:
        now = time.time()
        self.quality.add_judgment(now, judgment)
        if self.unsent is not None:
            self.unsent.quality.add_judgment(now, judgment)

    def take_unsent(self) -> dict:
        """What this worker recorded since its last report to the master; then forget it."""
        assert self.unsent is not None, "only a worker reports to a master"
        unsent, self.unsent = self.unsent, Unsent()
        self.recorder.replace_mirror(self.unsent.stats)
        return {
            "stats": unsent.stats.to_state(),
            "loop_lag": unsent.loop_lag.to_state(),
            "quality": unsent.quality.to_state(),
            "active": dict(self.active),
            "recent": [self._line(entry) for entry in unsent.recent],
        }

    def merge_worker_report(self, client_id: str, state: dict) -> None:
        """On the master: add a worker's figures to the fleet's."""
        self.workers_reported.add(client_id)
        self.recorder.stats.merge_state(state["stats"])
        self.loop_lag.merge_state(state["loop_lag"])
        self.quality.merge_state(state["quality"])
        self.active_by_worker[client_id] = state["active"]
        self.recent.extend(state["recent"])
        self._hold_the_run_budget()

    def _hold_the_run_budget(self) -> None:
        """On the master: once the workers together have spent --llm-budget-usd, tell
        every worker to stop asking. Workers report every few seconds, so the run may
        spend what the fleet spends in that time beyond the budget."""
        budget = self.settings.gateway.budget_usd
        if budget is None or self._run_budget_spent_sent:
            return
        scenarios = self.recorder.stats.scenarios.values()
        spent = sum(stats.persona_usage.cost_nano_usd for stats in scenarios)
        if usd(spent) >= budget:
            self._run_budget_spent_sent = True
            log.warning(
                "chatstorm: the workers together have spent the LLM budget of $%g ($%.4f): "
                "they make no new LLM requests from now on",
                budget,
                usd(spent),
            )
            self.environment.runner.send_message(RUN_BUDGET_SPENT)

    def on_run_budget_spent(self, *_args, **_kwargs) -> None:
        """On a worker: the master says the run's budget is spent."""
        services = self.process.services
        gateway = services.llm if services is not None else None
        if gateway is not None:
            self.loop.call_soon(gateway.stop_for_run)

    def note_message(self, entry: TranscriptEntry) -> None:
        """Keep the latest lines for the web UI (and, on a worker, for the master)."""
        self.recent.append(entry)
        if self.unsent is not None:
            self.unsent.recent.append(entry)

    def _line(self, entry: TranscriptEntry | dict) -> dict:
        if isinstance(entry, dict):  # already a line: it came from a worker
            return entry
        return {
            "t_s": self.recorder.timeline.relative(entry.t),
            "scenario": entry.scenario,
            "conversation_id": entry.conversation_id,
            "role": entry.role,
            "text": entry.text,
        }

    def live_view(self) -> LiveView:
        """What the web UI shows now: figures per scenario with active conversations, and
        the latest transcript lines (on a master, the whole fleet's)."""
        active = Counter(self.active)
        connected = getattr(self.environment.runner, "clients", {})
        for client_id, counts in self.active_by_worker.items():
            if client_id in connected:  # a worker that left runs nothing any more
                active.update(counts)
        report = self.recorder.stats.to_report(live=True)
        scenarios = {
            name: {"active": active.get(name, 0), **figures}
            for name, figures in report["scenarios"].items()
        }
        for name in active.keys() - scenarios.keys():
            scenarios[name] = {"active": active[name], **ScenarioStats().to_report()}
        status = self.process.status()
        waiting = status.get("waiting_for_account", {})
        for name, figures in scenarios.items():
            figures["waiting_for_account"] = waiting.get(name, 0)
        return LiveView.model_validate(
            {
                "scenarios": dict(sorted(scenarios.items())),
                "transport": status,
                "totals": report["totals"],
                "recent": [self._line(entry) for entry in self.recent],
            }
        )

    def _post_lag(self, started: float, lags_ms: list[float]) -> None:
        self.loop.post(partial(self._record_lag, started, lags_ms))

    def _record_lag(self, started: float, lags_ms: list[float]) -> None:
        if started < self._figures_since:  # a window from before the figures were reset
            return
        for figures in self._lag_sinks():
            for lag in lags_ms:
                figures.histogram.add(lag)

    def _post_overload(self, p99_ms: float, max_ms: float) -> None:
        self.loop.post(partial(self._warn_overload, p99_ms, max_ms))

    def _warn_overload(self, p99_ms: float, max_ms: float) -> None:
        for figures in self._lag_sinks():
            figures.overloaded_windows += 1
        log.warning(
            "chatstorm: this process is overloaded: its event loop runs %.1f ms late (p99, "
            "max %.0f ms) over the last %.0f s, so latencies include up to that much harness "
            "delay; run fewer users per process (add workers or --processes)",
            p99_ms,
            max_ms,
            WINDOW_S,
        )

    def _lag_sinks(self) -> tuple[LoopLagFigures, ...]:
        """Where lag goes: this process's figures and, on a worker, what the master has
        not been sent yet."""
        return (self.loop_lag,) if self.unsent is None else (self.loop_lag, self.unsent.loop_lag)

    def start_conversation(self, scenario: Scenario, outages_in_a_row: int = 0) -> Submission:
        """Hold one conversation; a user whose last ``outages_in_a_row`` conversations hit
        an outage backs off longer after this one if it hits one too."""
        self.active[scenario.name] += 1
        conversation_id = f"{scenario.name}#{self._process_tag}-{next(self._serial)}"
        converse = partial(
            self.process.converse, scenario, conversation_id, self._loop_side, outages_in_a_row
        )
        return self.loop.submit(converse)

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """After users stopped: wait (at most ``timeout``) until every interrupted
        conversation has reported. Those still stuck then are counted as interrupted."""
        winding = partial(self.process.wind_down, timeout)
        if self.loop.running and not self.loop.run_bounded(
            winding, timeout + 1.0, "winding down the conversations"
        ):
            self._count_stuck()
        elif self.loop.running and self.process.stuck():
            say_ran_out("winding down the conversations", timeout)
            self._count_stuck()
        if self.loop.running and self._lag_monitor is not None:
            self.loop.run_bounded(self._flush_lag, 1.0, "sending the last loop-lag window")

    async def _flush_lag(self) -> None:
        assert self._lag_monitor is not None
        self._lag_monitor.flush()

    def _count_stuck(self) -> None:
        """Conversations that did not end when told to (a transport that ignores its
        cancellation) are counted as interrupted now (whether a burst was in flight is not
        known: none is counted); whatever they report later is not counted again."""
        stuck_now = self.process.stuck()
        for scenario, count in stuck_now.items():
            for serial in range(count):
                stuck_id = f"{scenario}#stuck-{serial}"
                self.recorder.on_end(ConversationResult(stuck_id, scenario, 0, "interrupted", 0))
        if stuck := sum(stuck_now.values()):
            log.warning(
                "chatstorm: %d conversation(s) did not end at the stop; counted as interrupted",
                stuck,
            )
        self.active.clear()
        self._gevent_side.ignoring_ends = True

    def collect_finals(self) -> None:
        """On a master at the stop: every live worker's last lines and figures."""
        if self.master_link is not None:
            self.master_link.collect_finals(FINAL_WAIT_S, set(self.workers_reported))

    def finish_report(self, **run: int | None) -> Conclusion:
        """Build the report, check the objectives, write it when --report-dir was given."""
        conclusion = conclude(
            self.recorder,
            self.settings,
            self.scenarios,
            self.loop_lag,
            self.quality,
            self._add_fleet,
            **run,
        )
        self.report, self.slo_results = conclusion.report, conclusion.slo_results
        return conclusion

    def _add_fleet(self, report: Report) -> None:
        if self.master_link is not None:
            self.master_link.drain()
            report.fleet = Fleet.model_validate(self.master_link.to_report())

    def shutdown(self) -> None:
        """Close what the run opened, within SHUTDOWN_TIMEOUT_S all together (the loop's
        own bound too: a loop thread stuck in a busy loop is not waited for)."""
        ends = time.monotonic() + SHUTDOWN_TIMEOUT_S
        closing = partial(self.process.close, SHUTDOWN_TIMEOUT_S / 2)
        self.loop.run_bounded(closing, SHUTDOWN_TIMEOUT_S / 2 + 1, "closing the run")
        self.loop.stop(timeout=max(ends - time.monotonic(), 1.0))
        for link in (self.worker_link, self.master_link):  # their last lines, then the files
            if link is not None:
                link.close()
        self.recorder.close()
        if self._user_sampler is not None:
            self._user_sampler.kill(block=False)


def _both(streamed: LineSink | None, own: LineSink | None) -> LineSink | None:
    if streamed is not None and own is not None:
        return LineTee(streamed, own)
    return streamed or own
