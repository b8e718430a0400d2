"""The bounded LRU decision cache and its keys.

Correctness rule: a cached decision must equal what the engine would compute
for the same request now. Keys hold every request input (with value types,
since ``True == 1`` in Python but not in a policy); entries belong to one
compiled policy, so a policy swap starts a fresh cache; decisions whose
evaluation read the clock are never stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from meshsec.policy._decision import Decision

MAX_ITEMS = 1024


class Uncacheable(Exception):  # noqa: N818  internal control flow, never escapes
    pass


def freeze(value: Any, depth: int = 0) -> Hashable:
    """A hashable, type-tagged image of plain request data."""
    if isinstance(value, str):
        return value
    if depth > 16:
        raise Uncacheable
    if isinstance(value, bool | int | float) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, Mapping | list | tuple | set | frozenset) and len(value) > MAX_ITEMS:
        # The engine refuses such requests anyway; do not sort a million keys first.
        raise Uncacheable
    if isinstance(value, Mapping):
        # Only str keys: attribute lookups use str names, so ``{1: x}`` and
        # ``{"1": x}`` decide differently and must never share a key (and
        # mixed key types would not even sort).
        if not all(type(k) is str for k in value):
            raise Uncacheable
        return ("map", tuple(sorted((k, freeze(v, depth + 1)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(freeze(v, depth + 1) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(freeze(v, depth + 1) for v in value))
    try:
        hash(value)
    except TypeError:
        raise Uncacheable from None
    return (type(value).__qualname__, value)


class DecisionCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Hashable, Decision] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Decision | None:
        found = self._data.get(key)
        if found is not None:
            # OrderedDict operations are atomic under the GIL; a racing
            # eviction only means the key is gone, which is harmless.
            try:  # noqa: SIM105  contextlib.suppress costs more than the lookup itself
                self._data.move_to_end(key)
            except KeyError:
                pass
        return found

    def put(self, key: Hashable, decision: Decision) -> None:
        with self._lock:
            self._data[key] = decision
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
