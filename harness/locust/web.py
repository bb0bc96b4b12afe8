"""The "Conversations" and "Transcripts" tabs in Locust's web UI, and their JSON route.

Locust's web UI renders extra tabs from ``extended_tabs``/``extended_tables`` in its
template arguments and fills them from ``extended_stats`` in every ``/stats/requests``
poll, so the tabs refresh with Locust's own charts. ``/chatstorm/stats`` serves the
same figures as JSON for scripts and dashboards. Our latency rows stay in Locust's own
statistics table and charts.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, jsonify, request
from locust.web import WebUI

from harness.report.model import LiveView, ScenarioFigures
from harness.report.summary import bracket, llm_cells, mean, outcomes_cell, percent

CONVERSATION_COLUMNS = [
    ("scenario", "Scenario"),
    ("active", "Active"),
    ("waiting_for_account", "Waiting for account"),
    ("finished", "Finished"),
    ("success", "Success"),
    ("outcomes", "Outcomes"),
    ("bursts", "Bursts"),
    ("premature", "Premature"),
    ("groups_per_burst", "Reply groups / burst"),
    ("messages_per_reply", "Messages / reply"),
    ("late", "Late replies"),
    ("timeouts", "Timeouts"),
    ("first_reply_p95", "First reply p95 ms"),
    ("debounce", "Debounce estimate s"),
    ("llm_requests", "LLM requests (cached)"),
    ("llm_tokens", "LLM tokens in / out"),
    ("llm_cost", "LLM cost $"),
    ("llm_fallbacks", "Scripted fallbacks"),
]
TRANSCRIPT_COLUMNS = [
    ("t_s", "t (s)"),
    ("scenario", "Scenario"),
    ("conversation", "Conversation"),
    ("who", "Who"),
    ("text", "Message"),
]


def install_tabs(web_ui: WebUI, live_view: Callable[[], LiveView]) -> None:
    """Add the tabs and the JSON route; ``live_view()`` returns the current figures."""
    web_ui.template_args.update(
        extended_tabs=[
            {"title": "Conversations", "key": "conversations"},
            {"title": "Transcripts", "key": "transcripts"},
        ],
        extended_tables=[
            {"key": "conversations", "structure": _structure(CONVERSATION_COLUMNS)},
            {"key": "transcripts", "structure": _structure(TRANSCRIPT_COLUMNS)},
        ],
    )

    @web_ui.app.after_request
    def _add_our_rows(response: Response) -> Response:
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        view = live_view()
        extended = [
            {"key": "conversations", "data": conversation_rows(view)},
            {"key": "transcripts", "data": transcript_rows(view)},
        ]
        response.set_data(json.dumps({**response.get_json(), "extended_stats": extended}))
        return response

    @web_ui.app.route("/chatstorm/stats")
    @web_ui.auth_required_if_enabled
    def _chatstorm_stats() -> Response:
        return jsonify(live_view().model_dump(mode="json"))


def conversation_rows(view: LiveView) -> list[dict]:
    return [
        {
            "scenario": name,
            "active": figures.active,
            "waiting_for_account": figures.waiting_for_account or "",
            "finished": figures.conversations,
            **judging_cells(figures),
            "bursts": figures.bursts,
            "premature": percent(figures.premature_reply_rate, ""),
            "groups_per_burst": mean(figures.reply_groups_per_burst, ""),
            "messages_per_reply": mean(figures.messages_per_reply, ""),
            "late": figures.late_replies,
            "timeouts": figures.timeouts,
            "first_reply_p95": figures.latency_ms["first_reply"].p95 or "",
            "debounce": bracket(figures.debounce_estimate_s, ""),
            **llm_cells(figures.llm),
        }
        for name, figures in view.scenarios.items()
    ]


def judging_cells(figures: ScenarioFigures) -> dict[str, str]:
    """Success rate and outcomes of a judged scenario; blank for one that is not."""
    judging = figures.judging
    if judging is None:
        return {"success": "", "outcomes": ""}
    outcomes = outcomes_cell(judging.outcomes, "")
    return {"success": percent(judging.success_rate), "outcomes": outcomes}


def transcript_rows(view: LiveView) -> list[dict]:
    return [
        {
            "t_s": f"{line['t_s']:.2f}",
            "scenario": line["scenario"],
            "conversation": line["conversation_id"],
            "who": "👤 user" if line["role"] == "client" else "🤖 agent",
            "text": line["text"],
        }
        for line in reversed(view.recent)
    ]


def _structure(columns: list[tuple[str, str]]) -> list[dict]:
    return [{"key": key, "title": title} for key, title in columns]
