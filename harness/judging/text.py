"""Text matching for the offline judges: whole words and phrases, case-folded, in any
script; word-Jaccard similarity."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

WORD = re.compile(r"\w+(?:[-'’]\w+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text.casefold())


@lru_cache(maxsize=4096)
def _phrase(keyword: str) -> re.Pattern[str]:
    """``keyword`` as whole words: "hi" is not found in "this"."""
    return re.compile(
        r"(?<!\w)" + r"\s+".join(map(re.escape, keyword.casefold().split())) + r"(?!\w)"
    )


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
