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
def compile_glob(pattern: str) -> Callable[[str], object]:
    """Return a matcher for the whole string; translation is cached per pattern."""
    if is_literal(pattern):
        return pattern.__eq__
    # Runs of '*' collapse to one so that ``a**b`` costs no more than ``a*b``.
    collapsed = re.sub(r"\*+", "*", pattern)
    parts = []
    for ch in collapsed:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL).fullmatch


def star_count(pattern: str) -> int:
    return len(re.findall(r"\*+", pattern))
