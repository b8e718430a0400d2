"""Glob patterns used in rules: ``*`` (any run of characters) and ``?`` (one).

Only the policy's own patterns are globs; request values are always matched
as literal text, so a request for ``payment:*`` is just a strange id.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_META = frozenset("*?")
MAX_STARS = 8


def is_literal(pattern: str) -> bool:
    return not any(ch in _META for ch in pattern)


def literal_prefix(pattern: str) -> str:
    """The characters before the first metacharacter (the index bucket)."""
    for i, ch in enumerate(pattern):
        if ch in _META:
            return pattern[:i]
    return pattern


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """Return a whole-string matcher; translation is cached per pattern.

    No backtracking regex: the pattern is split at ``*`` into fixed-length
    segments; the first must match at the start, the last at the end, and
    each middle one is found leftmost in what remains. That is correct for
    ``*``/``?`` globs and linear in the input, so ``*a*a*a*b`` against a
    long run of ``a`` cannot stall the engine (ReDoS).
    """
    segments = pattern.split("*")
    if len(segments) == 1:
        return _fixed(pattern, anchored_end=True)
    head, *middle, tail = (s for s in segments)
    middle = [m for m in middle if m]
    if not middle and "?" not in head and not tail:
        return lambda value: value.startswith(head)  # the common "prefix*" case
    head_at = _fixed(head, anchored_end=False)
    finders = [_finder(m) for m in middle]
    tail_len = len(tail)
    tail_at = _fixed(tail, anchored_end=False)
    minimum = len(head) + tail_len + sum(len(m) for m in middle)

    def match(value: str) -> bool:
        if len(value) < minimum or not head_at(value):
            return False
        pos, end = len(head), len(value) - tail_len
        if not tail_at(value[end:]):
            return False
        for find in finders:
            pos = find(value, pos, end)
            if pos < 0:
                return False
        return True

    return match


def _fixed(segment: str, *, anchored_end: bool) -> Callable[[str], bool]:
    """Match a fixed-length segment at the start (and, if anchored, to the end)."""
    if "?" not in segment:
        if anchored_end:
            return segment.__eq__
        return lambda value: value.startswith(segment)
    regex = re.compile("".join("." if ch == "?" else re.escape(ch) for ch in segment), re.DOTALL)
    if anchored_end:
        return lambda value: regex.fullmatch(value) is not None
    return lambda value: regex.match(value) is not None


def _finder(segment: str) -> Callable[[str, int, int], int]:
    """Leftmost occurrence of a segment in value[pos:end]; return the index after it, or -1."""
    if "?" not in segment:

        def find(value: str, pos: int, end: int) -> int:
            found = value.find(segment, pos, end)
            return found + len(segment) if found >= 0 else -1

        return find
    regex = re.compile("".join("." if ch == "?" else re.escape(ch) for ch in segment), re.DOTALL)

    def search(value: str, pos: int, end: int) -> int:
        found = regex.search(value, pos, end)
        return found.end() if found is not None else -1

    return search


def star_count(pattern: str) -> int:
    return len(re.findall(r"\*+", pattern))
