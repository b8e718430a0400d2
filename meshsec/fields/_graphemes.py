"""Approximate extended grapheme clusters (UAX #29) without a third-party regex engine.

Good enough for masking: a base character keeps its combining marks,
variation selectors, emoji modifiers, tag characters and ZWJ-joined
followers; a regional-indicator pair (a flag) stays together; CR LF stays
together. Masking works on these clusters, so it never splits a code point
and, for the common cases, never splits a user-perceived character.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["graphemes"]

_ZWJ: Final = "\u200d"


def _extends(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (subdivision flags)
        or 0xE0100 <= cp <= 0xE01EF  # variation selectors supplement
        or ch == _ZWJ
        # Conjoining Hangul vowel and final jamo belong to the syllable they
        # follow (UAX #29 rules GB6-GB8), so "\u1100\u1161\u11a8" stays whole.
        or 0x1160 <= cp <= 0x11FF
        or 0xD7B0 <= cp <= 0xD7FB
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """Split ``text`` into grapheme-ish clusters; ``"".join`` of the result is ``text``."""
    if text.isascii():
        return _ascii(text)
    clusters: list[str] = []
    for ch in text:
        if clusters and _joins(clusters[-1], ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return clusters


def _joins(previous: str, ch: str) -> bool:
    if _extends(ch):
        return True
    if previous.endswith(_ZWJ):
        return True  # ZWJ sequence: the next pictograph belongs to the same emoji
    if _regional(ch) and len(previous) == 1 and _regional(previous):
        return True  # a flag is exactly two regional indicators
    return previous == "\r" and ch == "\n"


def _ascii(text: str) -> list[str]:
    if "\r\n" not in text:
        return list(text)
    clusters: list[str] = []
    for ch in text:
        if ch == "\n" and clusters and clusters[-1] == "\r":
            clusters[-1] = "\r\n"
        else:
            clusters.append(ch)
    return clusters
