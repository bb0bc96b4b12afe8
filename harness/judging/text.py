"""Text matching for the offline judges: whole words and phrases, case-folded, in any
script; word-Jaccard similarity."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

WORD = re.compile(r"\w+(?:[-'’]\w+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text.casefold())


INFLECTION_FROM = 5
"""A keyword whose last word has this many letters also matches that word with up to
three more letters (``специалист`` in ``специалиста``, ``transfer`` in ``transferred``);
a shorter one matches only whole (``hi`` is not found in ``this`` or ``hint``)."""


@lru_cache(maxsize=4096)
def _phrase(keyword: str) -> re.Pattern[str]:
    """``keyword`` as whole words, its last word possibly inflected."""
    parts = keyword.casefold().split()
    ending = r"\w{0,3}" if len(parts[-1]) >= INFLECTION_FROM else ""
    body = r"\s+".join(map(re.escape, parts))
    return re.compile(r"(?<!\w)" + body + ending + r"(?!\w)")


def mentions(text: str, keyword: str) -> bool:
    return _phrase(keyword).search(text.casefold()) is not None


def mentions_any(texts: Iterable[str], keywords: Iterable[str]) -> str | None:
    """The first keyword any of ``texts`` mentions, or None."""
    folded = [text.casefold() for text in texts]
    for keyword in keywords:
        pattern = _phrase(keyword)
        if any(pattern.search(text) for text in folded):
            return keyword
    return None


def jaccard(a: str, b: str) -> float:
    """Word-set similarity, 0..1; two empty texts are alike."""
    left, right = set(words(a)), set(words(b))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)
