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


def _phrase(keyword: str) -> str:
    """``keyword`` as whole words, its last word possibly inflected."""
    parts = keyword.casefold().split()
    ending = r"\w{0,3}" if len(parts[-1]) >= INFLECTION_FROM else ""
    return r"\s+".join(map(re.escape, parts)) + ending


@lru_cache(maxsize=4096)
def _any_of(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for a whole list: one search per text, however long the list."""
    alternatives = "|".join(_phrase(keyword) for keyword in keywords)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def mentions(text: str, keyword: str) -> bool:
    return mentions_any([text], (keyword,))


def mentions_any(texts: Iterable[str], keywords: Iterable[str]) -> bool:
    """Whether any of ``texts`` mentions any of ``keywords``."""
    pattern = _any_of(tuple(keywords))
    return any(pattern.search(text.casefold()) for text in texts)


def jaccard(a: str, b: str) -> float:
    """Word-set similarity, 0..1; two empty texts are alike."""
    left, right = set(words(a)), set(words(b))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)
