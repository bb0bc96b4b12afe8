"""The report's contract: what ``report.json`` holds, as typed models.

Every run's report is validated against these models before it is written, and
``harness schema --report`` prints their JSON Schema, so tools that read reports (CI
gates, dashboards, the next run's ``--baseline``) have a contract, not a README table.
Field order is the file's order.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.records import TRANSCRIBED_PER_TURN


class _Figures(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Latency(_Figures):
    """Milliseconds, from histograms with three significant digits; ``max`` is exact."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class LoopLag(Latency):
    overloaded_windows: int = Field(description="5 s windows whose loop-lag p99 passed 5 ms")


class DebounceEstimate(_Figures):
    max_pause_without_premature: float | None
    min_pause_with_premature: float | None
    bursts_sampled: int


class Tokens(_Figures):
    input: int
    output: int
    cache_write: int
    cache_read: int


class LlmUsage(_Figures):
    """What LLM and replay personas asked, cached, spent and fell back on."""

    requests: int
    retries: int
    cache_hits: int
    fallback_failed: int
    fallback_budget: int
    fallback_bad_output: int
    capped: int
    replayed_bursts: int
    tokens: Tokens
    cost_usd: float


class Spread(_Figures):
    min: float | None
    p50: float | None
    max: float | None
    mean: float | None
    stddev: float | None


class EvaluationFigures(_Figures):
    """One evaluation's verdicts over every conversation (and every turn, for a turn
    evaluation); ``pass_rate`` is of those judged (not skipped)."""

    passed: int
    failed: int
    inconclusive: int
    errors: int
    skipped: int
    pass_rate: float | None


class PersonalityFigures(_Figures):
    conversations: int
    success_rate: float | None
    mean_turns: float | None
    mean_duration_s: float | None


class Judging(_Figures):
    """What the judged conversations came to (scenarios that declare goals, outcomes,
    termination conditions or evaluations)."""

    conversations: int = Field(description="conversations with a verdict")
    successes: int
    success_rate: float | None
    excluded: dict[str, int] = Field(
        description="conversations with no verdict: cut_off (by the run's stop), unjudged "
        "(every judgment skipped or in error)"
    )
    infrastructure_failures: int = Field(
        description="unsuccessful for the network or the harness, not the agent"
    )
    outcomes: dict[str, int] = Field(description="label -> conversations; none matched: unresolved")
    evaluations: dict[str, EvaluationFigures]
    evaluation_pass_rate: float | None
    goals_achieved: int
    goals_total: int
    goals_achieved_rate: float | None
    blame: dict[str, int] = Field(description="unsuccessful conversations: agent, simulator, none")
    simulator_blame_rate: float | None = Field(
        description="the share of unsuccessful conversations the simulated person caused"
    )
    turns: Spread
    duration_s: Spread
    by_personality: dict[str, PersonalityFigures]


class ScenarioFigures(_Figures):
    """One scenario's figures (or the totals): counts, rates, histograms, latencies."""

    conversations: int
    conversations_interrupted: int
    end_reasons: dict[str, int]
    bursts: int
    bursts_interrupted: int
    bursts_reconnected: int
    client_messages: int
    agent_messages: int
    timeouts: int
    timeout_rate: float | None
    late_replies: int
    premature_bursts: int
    premature_reply_rate: float | None
    premature_messages: int
    edits: int
    chat_actions: int
    agent_messages_untranscribed: int = Field(
        0,
        description=f"counted and timed, not kept whole: beyond {TRANSCRIBED_PER_TURN} in a turn",
    )
    bot_errors: dict[str, int]
    reply_groups_per_burst: dict[str, int]
    messages_per_reply: dict[str, int]
    latency_ms: dict[str, Latency]
    debounce_estimate_s: DebounceEstimate
    llm: LlmUsage
    judging: Judging | None = Field(None, description="judged scenarios only")
    pass_hat_k: dict[str, float] | None = Field(
        None,
        description="harness run: the chance that k tries in a row all succeed, k = 1..runs",
    )
    pass_hat_k_without_infrastructure: dict[str, float] | None = Field(
        None, description="the same, leaving out the runs the network or the harness failed"
    )


class Run(_Figures):
    """How the run ran."""

    started_at: str
    duration_s: float
    run_id: str = Field(
        "", description="shared by every process of the run, in its files ('': older reports)"
    )
    transport: str
    time_scale: float
    seed: str
    loop_lag_ms: LoopLag
    users: int | None = Field(None, description="the users a Locust run asked for")
    workers: int | None = Field(None, description="on a master: the workers that reported")


class Levels(_Figures):
    p50: float | None
    p95: float | None
    p99: float | None


class Quality(_Figures):
    bursts: int
    first_reply_ms: Levels
    complete_reply_ms: Levels
    premature_reply_rate: float | None
    timeout_rate: float | None
    judged: int = Field(description="judged conversations that ended in it")
    success_rate: float | None
    outcomes: dict[str, int]


class Window(Quality):
    t_s: float = Field(description="seconds since the run started, at the window's start")
    users: int | None = Field(description="users running in the window (null: no sample)")


class Band(Quality):
    users: str = Field(description="the band of user counts, as 'low-high'")


class Load(_Figures):
    """Quality under load: per window of time, and per band of users."""

    window_s: float = Field(
        description="the timeline's window width: 10 s, doubled when a run would pass 60 windows"
    )
    timeline: list[Window]
    bands: list[Band]


class Objective(_Figures):
    scenario: str | None
    key: str
    limit: float
    measured: float | None
    passed: bool


class RunFigures(_Figures):
    """Every scenario's figures and the totals, as the metrics hold them."""

    scenarios: dict[str, ScenarioFigures]
    totals: ScenarioFigures


class BaselineChange(_Figures):
    """A figure of a scenario against an earlier run's (``harness run --baseline``)."""

    scenario: str
    figure: str
    before: float
    after: float
    regressed: bool = Field(description="worse than the baseline beyond its tolerance")


class MatrixLayout(_Figures):
    """``harness run --matrix``: which scenario is which cell of the grid."""

    name: str = Field(description="the matrix file's name")
    parameters: list[str] = Field(description="the dotted scenario paths it varies")
    cells: dict[str, dict[str, Any]] = Field(description="scenario -> its parameters' values")


class FleetWorker(_Figures):
    """A worker of a distributed run, as its master saw it."""

    status: str = Field(
        description="finished (sent its last figures), unanswered (alive, never sent "
        "them in time), lost (its heartbeat stopped: killed or cut off), running"
    )
    lines_received: int
    lines_dropped_by_worker: int = Field(description="lines it could not send fast enough")
    lines_lost_in_transit: int = Field(description="lines sent in chunks that never arrived")
    chunks: int
    chunks_missed: int
    final_received: bool


class Fleet(_Figures):
    """On a Locust master: its workers, and what of their transcripts reached it."""

    workers: dict[str, FleetWorker]
    unanswered: list[str]
    lost: list[str]
    lines_missing: int = Field(description="transcript and verdict lines not in the files")


class Report(_Figures):
    """report.json."""

    run: Run
    scenarios: dict[str, ScenarioFigures]
    totals: ScenarioFigures
    load: Load
    slo: list[Objective]
    baseline: list[BaselineChange] | None = Field(
        None, description="harness run --baseline: what changed since that run"
    )
    matrix: MatrixLayout | None = Field(None, description="harness run --matrix: the grid")
    fleet: Fleet | None = Field(None, description="a Locust master: its workers")


class LiveScenario(ScenarioFigures):
    """A scenario as the web UI shows it while the run goes on."""

    active: int = Field(description="conversations running now (on a master: the fleet's)")
    waiting_for_account: int = Field(description="users waiting for a free Telegram account")


class LiveView(_Figures):
    """``/chatstorm/stats``: the figures so far, the transport's state, the latest lines."""

    scenarios: dict[str, LiveScenario]
    transport: dict
    totals: ScenarioFigures
    recent: list[dict]
