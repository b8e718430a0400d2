"""Text normalization for DLP matching, with a map back to the original offsets.

A card number must not hide behind formatting: fullwidth or other Unicode
decimal digits count as digits (NFKC, then ``unicodedata.decimal``), any
dash punctuation is a dash, any space separator (non-breaking ones too) a
space, and zero-width characters and soft hyphens are removed.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["normalize"]

_REMOVED: Final = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff")
# Non-breaking spaces (U+00A0, U+2007, U+202F) are not dropped but read as
# plain spaces, like every other space separator: dropping them would glue
# "123<NBSP>45<NBSP>6789" into a bare number that is no longer an SSN.


def normalize(text: str) -> tuple[str, list[int] | None]:
    """The normalized text and, unless it is unchanged ASCII, a map from each
    normalized index (plus one past the end) to its index in ``text``."""
    if text.isascii():
        return text, None
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch in _REMOVED:
            continue
        for piece in _char(ch):
            out.append(piece)
            index.append(i)
    index.append(len(text))
    return "".join(out), index


def _char(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch.isdecimal():
        return str(unicodedata.decimal(ch))
    category = unicodedata.category(ch)
    if category == "Pd":
        return "-"
    if category == "Zs":
        return " "
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isdecimal():
        return str(unicodedata.decimal(folded))
    return folded


def original_span(index: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that normalized ``[start, end)`` came from."""
    if index is None:
        return start, end
    return index[start], index[end - 1] + 1 if end > start else index[start]
