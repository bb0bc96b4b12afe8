"""Conversations as a messenger shows them: each message with its time and the pause
before it, grouped by turn (the burst and the reply it got), premature replies marked,
and each evaluation's verdict beside its turn.

The page carries a sample (``sources``), within a byte budget, so a run of 100,000
conversations still opens in a few seconds; the page says how many it shows of how many.
"""

from __future__ import annotations

import re

import orjson

from harness.report.html.sources import RunFolder

CHAT_BYTES = 3_000_000
"""The sampled conversations' share of the page."""
TEXT_CHARS = 2000
"""A message longer than this is cut (and marked so) in the page; the transcript has it whole."""
DETAIL_CHARS = 400
_SERIAL = re.compile(r"(\d+)")


def chat_view(folder: RunFolder) -> dict:
    """The sampled conversations, as many as fit the budget, most wanted first."""
    shown: list[dict] = []
    used = 0
    for conversation in folder.sampled:
        entry = conversation_entry(
            conversation, folder.lines.get(conversation, []), folder.verdicts.get(conversation)
        )
        size = len(orjson.dumps(entry))
        if used + size > CHAT_BYTES:
            continue  # a smaller one may still fit
        used += size
        shown.append(entry)
    shown.sort(key=lambda entry: (entry["scenario"], _natural(entry["id"])))
    return {
        "total": folder.conversations_total,
        "has_transcripts": folder.has_transcripts,
        "conversations": shown,
    }


def conversation_entry(conversation: str, lines: list[dict], verdict: dict | None) -> dict:
    """One conversation for the chat view."""
    first = lines[0] if lines else {}
    verdict = verdict or {}
    return {
        "id": conversation,
        "scenario": verdict.get("scenario", first.get("scenario", "")),
        "persona": verdict.get("persona", first.get("persona", "")),
        "personality": verdict.get("personality"),
        "outcome": verdict.get("outcome"),
        "success": verdict.get("success"),
        "end_reason": verdict.get("end_reason"),
        "score": verdict.get("score"),
        "goals": _goals(verdict),
        "blame": verdict.get("blame"),
        "error": verdict.get("error"),
        "evaluations": [_evaluation(e) for e in verdict.get("evaluations", [])],
        "messages": messages(lines),
    }


def messages(lines: list[dict]) -> list[dict]:
    """The messages with the pause before each, and the agent's premature ones marked:
    an agent message of a turn that the user's burst went on after."""
    last_client = {line["turn"]: index for index, line in enumerate(lines) if _is_client(line)}
    shown = []
    previous_t: float | None = None
    for index, line in enumerate(lines):
        text = line.get("text", "")
        premature = (
            line["role"] == "agent"
            and not line.get("action")
            and index < last_client.get(line["turn"], -1)
        )
        shown.append(
            {
                "turn": line["turn"],
                "role": line["role"],
                "text": text[:TEXT_CHARS],
                "cut": len(text) > TEXT_CHARS,
                "time": line.get("time", "")[11:23],
                "t_s": line["t_s"],
                "pause_s": None if previous_t is None else round(line["t_s"] - previous_t, 3),
                "edit": bool(line.get("edit")),
                "action": line.get("action"),
                "premature": premature,
            }
        )
        if not line.get("action"):
            previous_t = line["t_s"]
    return shown


def _is_client(line: dict) -> bool:
    return line["role"] == "client"


def _goals(verdict: dict) -> str | None:
    total = verdict.get("goals_total")
    return f"{verdict.get('goals_achieved', 0)}/{total}" if total else None


def _evaluation(evaluation: dict) -> dict:
    detail = evaluation.get("detail") or ""
    return {
        "name": evaluation.get("name"),
        "scope": evaluation.get("scope"),
        "turn": evaluation.get("turn"),
        "verdict": evaluation.get("verdict"),
        "score": evaluation.get("score"),
        "detail": detail[:DETAIL_CHARS],
    }


def _natural(conversation: str) -> list:
    return [int(part) if part.isdigit() else part for part in _SERIAL.split(conversation)]
