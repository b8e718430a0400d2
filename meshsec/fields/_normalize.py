"""Text normalization for DLP matching, with a map back to the original offsets.

A card number must not hide behind formatting: fullwidth or other Unicode
decimal digits count as digits (NFKC, then ``unicodedata.decimal``), any
dash punctuation or minus sign is a dash, dot and slash look-alikes are dots
and slashes, any space separator (non-breaking ones too) a space, and
invisible characters are removed: zero-width and other format controls
(category Cf: soft hyphen, bidi marks and overrides, tags) and combining
marks (Mn, Me: "4\u0301" or a keycap "4\ufe0f\u20e3" reads as "4").
"""

from __future__ import annotations

import functools
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


# Look-alikes NFKC leaves alone: minus signs (Sm/Lm/Po), middle dots and bullets.
_LOOKALIKES: Final = {
    **dict.fromkeys("\u2212\u2796\u02d7\u2043", "-"),
    **dict.fromkeys("\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff65", "."),
    **dict.fromkeys("\u2044\u2215\u29f8", "/"),
}


# Invisible format controls and combining marks vanish; dashes and spaces unify.
_CATEGORIES: Final = {"Cf": "", "Mn": "", "Me": "", "Pd": "-", "Zs": " "}


@functools.lru_cache(maxsize=4096)
def _char(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch.isdecimal():
        return str(unicodedata.decimal(ch))
    by_category = _CATEGORIES.get(unicodedata.category(ch))
    if by_category is not None:
        return by_category
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isdecimal():
        return str(unicodedata.decimal(folded))
    return _LOOKALIKES.get(folded, folded)


def original_span(index: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that normalized ``[start, end)`` came from."""
    if index is None:
        return start, end
    return index[start], index[end - 1] + 1 if end > start else index[start]
