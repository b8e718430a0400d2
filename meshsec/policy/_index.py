"""Rule indexes: candidate rules for an (action, principal) pair without a scan.

Exact-literal patterns live in dicts; glob patterns are bucketed by their
literal prefix, and a lookup probes only the prefix lengths that exist. The
candidate sets per action and per principal are memoized (bounded), so a
decision touches the handful of rules that can match, however many exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from meshsec.policy._glob import compile_glob, is_literal, literal_prefix

_MEMO_LIMIT = 8192


class PatternIndex:
    """Maps a request value to the frozenset of rule numbers whose patterns match it.

    Rules with a bare ``*`` pattern match every value; they are kept apart in
    ``universal`` so that a lookup never has to copy them.
    """

    def __init__(self, entries: Iterable[tuple[int, Iterable[str]]]) -> None:
        self._exact: dict[str, set[int]] = {}
        self._globs: dict[str, list[tuple[Callable[[str], object], int]]] = {}
        universal: set[int] = set()
        for number, patterns in entries:
            for pattern in patterns:
                if pattern.strip("*") == "":
                    universal.add(number)
                elif is_literal(pattern):
                    self._exact.setdefault(pattern, set()).add(number)
                else:
                    bucket = self._globs.setdefault(literal_prefix(pattern), [])
                    bucket.append((compile_glob(pattern), number))
        self.universal = frozenset(universal)
        self._lengths = sorted({len(prefix) for prefix in self._globs})
        self._memo: dict[str, frozenset[int]] = {}

    def lookup(self, value: str) -> frozenset[int]:
        """Rules whose non-universal patterns match ``value`` (add ``universal`` yourself)."""
        found = self._memo.get(value)
        if found is None:
            found = self._compute(value)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()  # bounded: an attacker's random values cannot grow it
            self._memo[value] = found
        return found

    def _compute(self, value: str) -> frozenset[int]:
        result = set(self._exact.get(value, ()))
        result -= self.universal
        for length in self._lengths:
            if length > len(value):
                break
            for match, number in self._globs.get(value[:length], ()):
                if number not in self.universal and match(value):
                    result.add(number)
        return frozenset(result)
