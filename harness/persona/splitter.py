"""Split a text into the few messages a person would send instead of one long one.

Boundaries are sentence ends (``.``, ``!``, ``?``, ``…``) followed by white space, blank
lines, and list items. A boundary never falls inside a URL or a number (the punctuation
there is not followed by a space), after a known abbreviation (``e.g.``, ``т.е.``,
``и т.д.``) or after an initial (``J. Smith``). Each numbered or bulleted list item stays
whole. When there are more pieces than ``max_parts``, neighbours are merged so the parts
are as even in length as possible.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

ABBREVIATIONS = frozenset(
    {
        # English
        "e.g.",
        "i.e.",
        "etc.",
        "vs.",
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "prof.",
        "st.",
        "no.",
        "approx.",
        "fig.",
        "a.m.",
        "p.m.",
        "inc.",
        "ltd.",
        "jr.",
        "sr.",
        "u.s.",
        "cf.",
        # Russian
        "т.е.",
        "т.д.",
        "т.п.",
        "т.к.",
        "т.н.",
        "г.",
        "гг.",
        "ул.",
        "д.",
        "стр.",
        "руб.",
        "коп.",
        "тыс.",
        "млн.",
        "млрд.",
        "см.",
        "напр.",
        "др.",
        "пр.",
        "им.",
        "кв.",
        "обл.",
        "р.",
        "мин.",
        "сек.",
        "ч.",
        "т.",
        "с.",
        "п.",
    }
)
# Abbreviations that also end sentences: a boundary when the next word is capitalised.
SENTENCE_FINAL = frozenset({"etc.", "т.д.", "т.п.", "др.", "inc.", "ltd."})
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”)\]]*(?=\s)")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•–])\s+")
_INITIAL = re.compile(r"^\(?[A-ZА-ЯЁ]\.$")


def split_response_naturally(text: str, max_parts: int = 5) -> list[str]:
    """The text as 1..max_parts messages in order; no parts for empty input."""
    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    return list(_split(text, max_parts))


@lru_cache(maxsize=4096)
def _split(text: str, max_parts: int) -> tuple[str, ...]:
    """Cached: scripted personas split the same utterances again and again under load."""
    pieces = [piece for block in _blocks(text) for piece in _sentences(block)]
    if not pieces:
        return ()
    return tuple(_merge_evenly(pieces, max_parts))


def _blocks(text: str) -> list[str]:
    """Paragraphs and list items: the units no sentence split may cross."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(" ".join(current))
            current.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif _LIST_ITEM.match(line):
            flush()
            blocks.append(stripped)
        elif blocks and not current and _LIST_ITEM.match(blocks[-1]) and line[:1].isspace():
            blocks[-1] = f"{blocks[-1]} {stripped}"
        else:
            current.append(stripped)
    flush()
    return blocks


def _sentences(block: str) -> list[str]:
    if _LIST_ITEM.match(block):
        return [block]
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(block):
        end = match.end()
        if not _is_boundary(block[start:end], block[end:].lstrip()):
            continue
        sentence = block[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    rest = block[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _is_boundary(candidate: str, following: str) -> bool:
    abbreviation = _trailing_abbreviation(candidate)
    if abbreviation is None:
        return True
    return abbreviation in SENTENCE_FINAL and following[:1].isupper()


def _trailing_abbreviation(candidate: str) -> str | None:
    """The abbreviation (or initial) ``candidate`` ends with, lower-cased; the longest wins,
    so "т. д." written with a space is read as "т.д.", not as "д."."""
    words = candidate.split()
    for size in (3, 2):
        tail = words[-size:]
        joined = "".join(tail).lower()
        if len(tail) == size and all(len(w) <= 3 for w in tail) and joined in ABBREVIATIONS:
            return joined
    if words and (words[-1].lower() in ABBREVIATIONS or _INITIAL.match(words[-1])):
        return words[-1].lower()
    return None


def _merge_evenly(pieces: list[str], max_parts: int) -> list[str]:
    """Contiguous groups (at most max_parts) minimising the longest group."""
    count = min(max_parts, len(pieces))
    if count == len(pieces):
        return pieces
    lengths = [len(piece) + 1 for piece in pieces]
    prefix = [0]
    for length in lengths:
        prefix.append(prefix[-1] + length)
    n = len(pieces)
    inf = float("inf")
    # best[k][i]: smallest possible longest group splitting pieces[:i] into k groups.
    best = [[inf] * (n + 1) for _ in range(count + 1)]
    cut = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0
    for k in range(1, count + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                cost = max(best[k - 1][j], prefix[i] - prefix[j])
                if cost < best[k][i]:
                    best[k][i], cut[k][i] = cost, j
    bounds: list[int] = []
    i = n
    for k in range(count, 0, -1):
        bounds.append(i)
        i = cut[k][i]
    bounds.append(0)
    bounds.reverse()
    return [" ".join(pieces[a:b]) for a, b in itertools.pairwise(bounds)]
