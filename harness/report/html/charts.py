"""The report's charts, as Plotly figures (data and layout), built from the typed report
and the pauses read from the transcripts.

Each chart is built only when the run has what it shows (a ``harness run`` has no load
timeline, a run without judged scenarios no success rates); the page lists the ones left
out and why. Plotly.js draws them in the page, inlined, so the file opens offline.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from harness.report.html.sources import PauseEvidence
from harness.report.model import Report, ScenarioFigures, Window

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#3b6fd4",
    "#e8833a",
    "#2e9d5b",
    "#d64545",
    "#8a8f98",
    "#8e5cc7",
)
HEIGHT = 330
NO_TIMELINE = "no load timeline: a functional run (harness run) has none"
PAUSE_SCENARIOS = 30
"""The pause chart offers the scenarios with the most pauses, up to this many."""
BAR_SCENARIOS = 12
"""Histograms show each scenario up to this many, then all together."""
RATE_BARS = 60
"""Success per scenario shows this many bars at most: the least successful."""
Pauses = dict[str, PauseEvidence]
SUCCESS_SCALE = [[0, RED], [0.6, "#f3c75f"], [1, GREEN]]
PREMATURE_SCALE = [[0, "#f6f2fc"], [1, PURPLE]]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    note: str
    data: list[dict]
    layout: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        layout = {
            "height": HEIGHT,
            "margin": {"l": 60, "r": 30, "t": 20, "b": 70},
            "legend": {"orientation": "h", "y": -0.3},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "system-ui, sans-serif", "size": 12},
            **self.layout,
        }
        return {
            "id": self.id,
            "title": self.title,
            "note": self.note,
            "data": self.data,
            "layout": layout,
        }


@dataclass(frozen=True)
class LeftOut:
    title: str
    why: str


def build_charts(report: Report, pauses: Pauses) -> tuple[list[Chart], list[LeftOut]]:
    """Every chart the run can draw, and those it cannot, with the reason."""
    charts: list[Chart] = []
    left_out: list[LeftOut] = []
    for title, build in _BUILDERS:
        chart_or_reason = build(report, pauses)
        if isinstance(chart_or_reason, Chart):
            charts.append(chart_or_reason)
        else:
            left_out.append(LeftOut(title, chart_or_reason))
    return charts, left_out


def _latency_over_time(report: Report, _pauses: Pauses) -> Chart | str:
    windows = _windows(report)
    if not windows:
        return NO_TIMELINE
    t = [w.t_s for w in windows]
    data = [
        _line(t, [w.first_reply_ms.p50 for w in windows], "first reply p50", BLUE),
        _line(t, [w.first_reply_ms.p95 for w in windows], "first reply p95", BLUE, "dot"),
        _line(t, [w.complete_reply_ms.p50 for w in windows], "complete reply p50", ORANGE),
        _line(t, [w.complete_reply_ms.p95 for w in windows], "complete reply p95", ORANGE, "dot"),
    ]
    users = [w.users for w in report.load.timeline]
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": "seconds since the start"}},
        "yaxis": {"title": {"text": "ms"}, "rangemode": "tozero"},
    }
    if any(u is not None for u in users):
        data.append(
            {
                **_line([w.t_s for w in report.load.timeline], users, "users", GREY, "dash"),
                "yaxis": "y2",
                "line": {"color": GREY, "dash": "dash", "shape": "hv"},
            }
        )
        layout["yaxis2"] = _right_axis("users")
    return Chart(
        "latency-time",
        "Reply latency over time",
        f"Per {report.load.window_s:g} s window: first reply (the wait until the agent "
        "starts answering) and complete reply (until its last message), with the users "
        "running.",
        data,
        layout,
    )


def _latency_by_band(report: Report, _pauses: Pauses) -> Chart | str:
    bands = [b for b in report.load.bands if b.bursts]
    if not bands:
        return "no user bands: a functional run (harness run) has none"
    x = [b.users for b in bands]
    data = [
        _bar(x, [b.first_reply_ms.p50 for b in bands], "first reply p50", BLUE),
        _bar(x, [b.first_reply_ms.p95 for b in bands], "first reply p95", "#8fb0ea"),
        _bar(x, [b.complete_reply_ms.p50 for b in bands], "complete reply p50", ORANGE),
        _bar(x, [b.complete_reply_ms.p95 for b in bands], "complete reply p95", "#f3bb8f"),
    ]
    return Chart(
        "latency-band",
        "Reply latency per user band",
        "The same percentiles, over the windows in which that many users were running: "
        "where latency starts to climb with load.",
        data,
        _grouped_bars("users", "ms"),
    )


def _premature_over_time(report: Report, _pauses: Pauses) -> Chart | str:
    windows = _windows(report)
    if not windows:
        return NO_TIMELINE
    t = [w.t_s for w in windows]
    return Chart(
        "premature-time",
        "Premature replies and timeouts over time",
        "The share of bursts the agent answered before the user had finished, and of "
        "bursts that got no reply in time, per window.",
        [
            _line(t, [_percent(w.premature_reply_rate) for w in windows], "premature", PURPLE),
            _line(t, [_percent(w.timeout_rate) for w in windows], "timed out", RED),
        ],
        {
            "xaxis": {"title": {"text": "seconds since the start"}},
            "yaxis": {"title": {"text": "% of bursts"}, "rangemode": "tozero"},
        },
    )


@dataclass(frozen=True)
class _Histogram:
    """A histogram of the report's (``reply_groups_per_burst``, ``messages_per_reply``):
    per scenario, the share of bursts or replies at each count; past BAR_SCENARIOS
    scenarios (a large matrix), all of them together."""

    figure: str
    chart_id: str
    title: str
    note: str
    counted: str
    per: str

    def __call__(self, report: Report, _pauses: Pauses) -> Chart | str:
        scenarios = _measured(report)
        if len(scenarios) > BAR_SCENARIOS:
            scenarios = {"all scenarios": report.totals}
        counts: dict[str, dict[str, int]] = {
            name: getattr(figures, self.figure) for name, figures in scenarios.items()
        }
        keys = sorted({key for hist in counts.values() for key in hist}, key=int)
        if not keys:
            return "no burst got a reply"
        hover = f"%{{x}} {self.counted}: %{{y}} %<extra>%{{fullData.name}}</extra>"
        data = [
            {
                "type": "bar",
                "name": name,
                "x": keys,
                "y": _shares(hist, keys),
                "marker": {"color": _palette(index)},
                "hovertemplate": hover,
            }
            for index, (name, hist) in enumerate(counts.items())
        ]
        layout = _grouped_bars(self.counted, f"% of {self.per}")
        return Chart(self.chart_id, self.title, self.note, data, layout)


REPLY_GROUPS = _Histogram(
    "reply_groups_per_burst",
    "reply-groups",
    "Reply groups per burst",
    "1 means the agent merged the burst and answered once; more means it answered "
    "fragments separately.",
    "reply groups",
    "bursts",
)
MESSAGES_PER_REPLY = _Histogram(
    "messages_per_reply",
    "messages-per-reply",
    "Messages per reply",
    "How many messages the agent's answer to a burst spanned.",
    "messages",
    "replies",
)


def _pause_vs_premature(report: Report, pauses: Pauses) -> Chart | str:
    shown = sorted(
        ((name, evidence) for name, evidence in pauses.items() if evidence.points),
        key=lambda item: (not _bracketed(report.scenarios.get(item[0])), -item[1].seen),
    )[:PAUSE_SCENARIOS]
    if not shown:
        return "no burst of several messages in the transcripts (or no transcripts written)"
    jitter = random.Random(0)
    data: list[dict] = []
    views = []
    for index, (name, evidence) in enumerate(shown):
        data.extend(_pause_traces(evidence, jitter, visible=index == 0))
        figures = report.scenarios.get(name)
        shapes, annotations = _bracket_marks(figures) if figures else ([], [])
        views.append((name, shapes, annotations, _log_range(evidence, shapes)))
    _, shapes, annotations, x_range = views[0]
    layout: dict[str, Any] = {
        "xaxis": {
            "title": {"text": "pause, seconds (log scale)"},
            "type": "log",
            "range": x_range,
        },
        "yaxis": {
            "title": {"text": "replied during the pause"},
            "range": [-0.25, 1.25],
            "tickvals": [0, 0.5, 1],
            "ticktext": ["no", "50 %", "yes"],
        },
        "shapes": shapes,
        "annotations": annotations,
    }
    if len(views) > 1:  # one scenario at a time: each has its own agent, its own window
        traces = len(data) // len(views)
        buttons = [
            {
                "label": name,
                "method": "update",
                "args": [
                    {"visible": [i // traces == index for i in range(len(data))]},
                    {"shapes": shapes, "annotations": annotations, "xaxis.range": x_range},
                ],
            }
            for index, (name, shapes, annotations, x_range) in enumerate(views)
        ]
        layout["updatemenus"] = [
            {"buttons": buttons, "x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom"}
        ]
        layout["margin"] = {"l": 60, "r": 30, "t": 50, "b": 70}
    drawn = sum(len(evidence.points) for _, evidence in shown)
    seen = sum(evidence.seen for _, evidence in shown)
    return Chart(
        "pause-premature",
        "Pause length vs premature reply",
        f"Each point is a pause between two messages of a burst ({drawn:,} of {seen:,} "
        "drawn; the line counts every one), one scenario at a time. A pause longer than "
        "the agent's debounce window triggers an answer, which lands during the pause once "
        "the pause also outlasts the agent's reaction; the green band is the window the "
        "harness inferred from when each answer was due (run seconds: divide by the time "
        "scale for scenario seconds).",
        data,
        layout,
    )


def _pause_traces(evidence: PauseEvidence, jitter: random.Random, visible: bool) -> list[dict]:
    rates = evidence.rates()
    answered = [p for p in evidence.points if p[1]]
    quiet = [p for p in evidence.points if not p[1]]
    traces = [
        _points(quiet, 0.0, jitter, "no reply during the pause", BLUE),
        _points(answered, 1.0, jitter, "agent replied during the pause", RED),
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "share replied during (every pause)",
            "x": [round(r[0], 4) for r in rates],
            "y": [round(r[1], 4) for r in rates],
            "text": [f"{r[2]} pauses" for r in rates],
            "line": {"color": GREY, "shape": "spline"},
        },
    ]
    for trace in traces:
        trace["visible"] = visible
    return traces


def _bracketed(figures: ScenarioFigures | None) -> bool:
    """The scenario's debounce is bracketed on both sides: the view to open with."""
    if figures is None:
        return False
    estimate = figures.debounce_estimate_s
    low, high = estimate.max_pause_without_premature, estimate.min_pause_with_premature
    return low is not None and high is not None and low < high


def _log_range(evidence: PauseEvidence, shapes: list[dict]) -> list[float]:
    """The scenario's own pauses and bracket, padded, in log10 units (Plotly's range of a
    log axis): each view fits its scenario, not the widest of them."""
    values = [p[0] for p in evidence.points]
    values += [shape[edge] for shape in shapes for edge in ("x0", "x1")]
    return [round(math.log10(min(values)) - 0.15, 3), round(math.log10(max(values)) + 0.15, 3)]


def _bracket_marks(figures: ScenarioFigures) -> tuple[list[dict], list[dict]]:
    """The debounce bracket as a band (or a line, when one side is open)."""
    estimate = figures.debounce_estimate_s
    low, high = estimate.max_pause_without_premature, estimate.min_pause_with_premature
    if low is None and high is None:
        return [], []
    x0 = low if low is not None else high
    x1 = high if high is not None else low
    band = {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": x0,
        "x1": x1,
        "y0": 0,
        "y1": 1,
        "fillcolor": "rgba(46,157,91,0.18)",
        "line": {"color": GREEN, "width": 2},
    }
    label = {
        "xref": "paper",
        "yref": "paper",
        "x": 1,
        "y": 1,
        "xanchor": "right",
        "showarrow": False,
        "text": f"debounce {_bracket_text(low, high)}",
        "font": {"color": GREEN},
    }
    return [band], [label]


def _success_by_scenario(report: Report, _pauses: Pauses) -> Chart | str:
    judged = {
        name: figures.judging
        for name, figures in report.scenarios.items()
        if figures.judging is not None and figures.judging.conversations
    }
    if not judged:
        return "no judged conversation (declare goals, outcomes or evaluations)"
    note = "Judged conversations that succeeded; conversations cut off by the stop are left out."
    if len(judged) > RATE_BARS:
        worst = sorted(judged, key=lambda name: judged[name].success_rate or 0)[:RATE_BARS]
        judged = {name: judged[name] for name in worst}
        note += f" The {RATE_BARS} least successful scenarios; the table has them all."
    names = list(judged)
    return Chart(
        "success-scenario",
        "Success rate per scenario",
        note,
        [
            _rate_bar(
                names,
                [j.success_rate for j in judged.values()],
                [f"{j.successes}/{j.conversations}" for j in judged.values()],
            )
        ],
        _rate_layout(len(names)),
    )


def _success_by_personality(report: Report, _pauses: Pauses) -> Chart | str:
    judging = report.totals.judging
    people = {
        name: figures
        for name, figures in (judging.by_personality.items() if judging else ())
        if figures.conversations
    }
    if not people:
        return "no judged conversation"
    names = list(people)
    return Chart(
        "success-personality",
        "Success rate per personality",
        "The same, per the simulated person's personality: who the agent fails.",
        [
            _rate_bar(
                names,
                [p.success_rate for p in people.values()],
                [f"{p.conversations} conversations" for p in people.values()],
            )
        ],
        _rate_layout(len(names)),
    )


def _matrix(report: Report, _pauses: Pauses) -> Chart | str:
    matrix = report.matrix
    if matrix is None:
        return "not a matrix run (harness run --matrix)"
    cells = {name: values for name, values in matrix.cells.items() if name in report.scenarios}
    if len(matrix.parameters) == 2:
        return _heatmap(report, matrix.parameters, cells)
    if len(cells) > RATE_BARS:
        worst = sorted(cells, key=lambda name: _success(report.scenarios[name]) or 0)
        cells = {name: cells[name] for name in worst[:RATE_BARS]}
    labels = [", ".join(f"{k}={v}" for k, v in values.items()) for values in cells.values()]
    figures = [report.scenarios[name] for name in cells]
    return Chart(
        "matrix",
        f"Matrix {matrix.name}: success rate per cell",
        "One bar per combination of the grid's parameters.",
        [
            _rate_bar(
                labels,
                [_success(f) for f in figures],
                [_premature_text(f) for f in figures],
            )
        ],
        _rate_layout(len(labels)),
    )


def _heatmap(report: Report, parameters: list[str], cells: dict[str, dict]) -> Chart:
    across, down = parameters
    xs = _distinct(values[across] for values in cells.values())
    ys = _distinct(values[down] for values in cells.values())
    success = [[None] * len(xs) for _ in ys]
    premature = [[None] * len(xs) for _ in ys]
    for name, values in cells.items():
        row, column = ys.index(values[down]), xs.index(values[across])
        figures = report.scenarios[name]
        success[row][column] = _percent(_success(figures))
        premature[row][column] = _percent(figures.premature_reply_rate)
    x = [str(v) for v in xs]
    y = [str(v) for v in ys]
    data = [
        _heat(x, y, success, "success %", SUCCESS_SCALE, "x", "y", 0.41),
        _heat(x, y, premature, "premature %", PREMATURE_SCALE, "x2", "y2", 1.0),
    ]
    return Chart(
        "matrix",
        f"Matrix {report.matrix.name if report.matrix else ''}: success and premature "
        "replies per cell",
        f"Left, the success rate; right, the share of bursts answered before the user was "
        f"done: where the agent starts answering fragments. Across: {across}; down: {down}.",
        data,
        {
            "xaxis": {"title": {"text": across}, "type": "category", "domain": [0, 0.4]},
            "yaxis": {"title": {"text": down}, "type": "category"},
            "xaxis2": {
                "title": {"text": across},
                "type": "category",
                "domain": [0.56, 0.96],
                "anchor": "y2",
            },
            "yaxis2": {"type": "category", "anchor": "x2", "showticklabels": False},
        },
    )


def _outcomes(report: Report, _pauses: Pauses) -> Chart | str:
    judging = report.totals.judging
    if judging is None or not judging.outcomes:
        return "no judged conversation"
    labels = list(judging.outcomes)
    return Chart(
        "outcomes",
        "Outcomes",
        "How the judged conversations ended (unresolved: no outcome matched).",
        [
            {
                "type": "bar",
                "x": labels,
                "y": [judging.outcomes[label] for label in labels],
                "marker": {"color": [GREY if lb == "unresolved" else BLUE for lb in labels]},
                "hovertemplate": "%{x}: %{y}<extra></extra>",
            }
        ],
        {"yaxis": {"title": {"text": "conversations"}}, "xaxis": {"type": "category"}},
    )


def _evaluations(report: Report, _pauses: Pauses) -> Chart | str:
    judging = report.totals.judging
    if judging is None or not judging.evaluations:
        return "no evaluation declared (turn_evaluations, final_evaluations)"
    names = list(judging.evaluations)
    figures = list(judging.evaluations.values())
    return Chart(
        "evaluations",
        "Evaluation pass rates",
        "Of the verdicts given (skipped and errors left out).",
        [
            _rate_bar(
                names,
                [f.pass_rate for f in figures],
                [f"{f.passed} passed, {f.failed} failed" for f in figures],
            )
        ],
        _rate_layout(len(names)),
    )


def _llm(report: Report, _pauses: Pauses) -> Chart | str:
    spent = {name: f.llm for name, f in report.scenarios.items() if f.llm.requests}
    if not spent:
        return "no LLM request (scripted personas and offline judging cost nothing)"
    names = list(spent)
    kinds = (
        ("input", BLUE),
        ("output", ORANGE),
        ("cache_write", PURPLE),
        ("cache_read", GREEN),
    )
    data = [
        _bar(names, [getattr(u.tokens, kind) for u in spent.values()], f"{kind} tokens", color)
        for kind, color in kinds
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "markers+text",
            "name": "cost, USD",
            "x": names,
            "y": [u.cost_usd for u in spent.values()],
            "text": [f"${u.cost_usd:.4f}" for u in spent.values()],
            "textposition": "top center",
            "yaxis": "y2",
            "marker": {"color": RED, "size": 10, "symbol": "diamond"},
        }
    )
    return Chart(
        "llm",
        "LLM tokens and cost",
        "What the LLM personas and the LLM judge spent, per scenario (cache reads are "
        "billed at a tenth).",
        data,
        {
            "barmode": "stack",
            "xaxis": {"type": "category"},
            "yaxis": {"title": {"text": "tokens"}},
            "yaxis2": _right_axis("USD"),
        },
    )


_BUILDERS = (
    ("Reply latency over time", _latency_over_time),
    ("Reply latency per user band", _latency_by_band),
    ("Premature replies and timeouts over time", _premature_over_time),
    (REPLY_GROUPS.title, REPLY_GROUPS),
    ("Pause length vs premature reply", _pause_vs_premature),
    (MESSAGES_PER_REPLY.title, MESSAGES_PER_REPLY),
    ("Success rate per scenario", _success_by_scenario),
    ("Success rate per personality", _success_by_personality),
    ("Matrix", _matrix),
    ("Outcomes", _outcomes),
    ("Evaluation pass rates", _evaluations),
    ("LLM tokens and cost", _llm),
)


def _shares(hist: dict[str, int], keys: list[str]) -> list[float]:
    """Each count's share of the histogram, in %."""
    total = sum(hist.values()) or 1
    return [round(100 * hist.get(key, 0) / total, 2) for key in keys]


def _windows(report: Report) -> list[Window]:
    """The load timeline's windows that saw bursts (a functional run has none)."""
    return [w for w in report.load.timeline if w.bursts]


def _grouped_bars(x_title: str, y_title: str) -> dict:
    return {
        "barmode": "group",
        "xaxis": {"title": {"text": x_title}, "type": "category"},
        "yaxis": {"title": {"text": y_title}},
    }


def _right_axis(title: str) -> dict:
    """A second y axis on the right, sharing the x axis."""
    return {"title": {"text": title}, "overlaying": "y", "side": "right", "rangemode": "tozero"}


def _measured(report: Report) -> dict[str, ScenarioFigures]:
    return {name: f for name, f in report.scenarios.items() if f.bursts}


def _bracket_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:.3g} and {high:.3g} s"
    return f"over {low:.3g} s" if low is not None else f"under {high:.3g} s"


def _success(figures: ScenarioFigures) -> float | None:
    return figures.judging.success_rate if figures.judging is not None else None


def _premature_text(figures: ScenarioFigures) -> str:
    rate = figures.premature_reply_rate
    return "no bursts" if rate is None else f"{100 * rate:.1f} % premature"


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 2)


def _distinct(values: Any) -> list:
    seen: list = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _palette(index: int) -> str:
    return (BLUE, ORANGE, GREEN, PURPLE, RED, GREY)[index % 6]


def _line(x: list, y: list, name: str, color: str, dash: str = "solid") -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": y,
        "line": {"color": color, "dash": dash},
        "connectgaps": False,
    }


def _bar(x: list, y: list, name: str, color: str) -> dict:
    return {"type": "bar", "name": name, "x": x, "y": y, "marker": {"color": color}}


def _points(
    points: list[tuple[float, bool]], level: float, jitter: random.Random, name: str, color: str
) -> dict:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": [round(p[0], 4) for p in points],
        "y": [round(level + jitter.uniform(-0.15, 0.15), 3) for _ in points],
        "marker": {"color": color, "size": 5, "opacity": 0.5},
        "hovertemplate": "pause %{x:.3f} s<extra></extra>",
    }


def _rate_bar(labels: list[str], rates: list[float | None], detail: list[str]) -> dict:
    percents = [_percent(rate) for rate in rates]
    return {
        "type": "bar",
        "orientation": "h",
        "y": labels,
        "x": percents,
        "text": [
            "–" if p is None else f"{p:g} % ({d})" for p, d in zip(percents, detail, strict=True)
        ],
        "textposition": "auto",
        "marker": {"color": [_rate_color(p) for p in percents]},
        "hovertemplate": "%{y}: %{text}<extra></extra>",
    }


def _rate_layout(bars: int) -> dict:
    return {
        "height": max(HEIGHT, 60 + 28 * bars),
        "xaxis": {"title": {"text": "%"}, "range": [0, 105]},
        "yaxis": {"type": "category", "automargin": True, "autorange": "reversed"},
        "margin": {"l": 20, "r": 30, "t": 20, "b": 50},
    }


def _rate_color(percent: float | None) -> str:
    if percent is None:
        return GREY
    return GREEN if percent >= 90 else ORANGE if percent >= 60 else RED


def _heat(
    x: list[str],
    y: list[str],
    z: list[list[float | None]],
    name: str,
    scale: list,
    xaxis: str,
    yaxis: str,
    colorbar_x: float,
) -> dict:
    return {
        "type": "heatmap",
        "name": name,
        "x": x,
        "y": y,
        "z": z,
        "zmin": 0,
        "zmax": 100,
        "colorscale": scale,
        "xaxis": xaxis,
        "yaxis": yaxis,
        "texttemplate": "%{z:.0f} %",
        "hovertemplate": f"%{{x}} / %{{y}}: %{{z:.1f}} {name}<extra></extra>",
        "colorbar": {"x": colorbar_x, "len": 0.9, "thickness": 10, "title": {"text": name}},
    }
