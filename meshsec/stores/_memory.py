"""The in-memory store: the default, for one process."""

from __future__ import annotations

import heapq
import threading

from meshsec.clock import Clock, system_clock
from meshsec.stores._errors import InvalidStoreArgument, StoreFull
from meshsec.stores._protocol import check_key, check_ttl, check_value

__all__ = ["MemoryStore"]

# Expired entries swept per write: enough to keep up with any steady write
# rate, small enough that no single call pays for a large backlog.
_SWEEP_PER_WRITE = 16


class MemoryStore:
    """A thread-safe :class:`~meshsec.stores.Store` held in this process.

    Entries expire by the injected ``clock``: a read never returns an expired
    value, and each write removes a bounded number of expired entries, so
    memory follows the live set. ``max_entries`` bounds memory; when that many
    entries are live a new key raises :class:`~meshsec.stores.StoreFull`
    rather than evicting one (evicting could forget a revocation).

    State is per process: use :class:`~meshsec.stores.RedisStore` when
    several processes must agree.
    """

    def __init__(self, *, clock: Clock = system_clock, max_entries: int = 1_000_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise InvalidStoreArgument("max_entries is a positive integer")
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._data: dict[str, tuple[bytes, float]] = {}
        self._expiries: list[tuple[float, str]] = []

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self._max_entries})"

    def __len__(self) -> int:
        """Number of live entries."""
        now = self._clock()
        with self._lock:
            return sum(1 for _, expires in self._data.values() if expires > now)

    def get(self, key: str) -> bytes | None:
        key = check_key(key)
        with self._lock:
            return self._live(key, self._clock())

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        key = check_key(key)
        check_value(value)
        seconds = check_ttl(ttl)
        with self._lock:
            self._write(key, value, seconds)

    def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        key = check_key(key)
        check_value(value)
        seconds = check_ttl(ttl)
        with self._lock:
            if self._live(key, self._clock()) is not None:
                return False
            self._write(key, value, seconds)
            return True

    def compare_and_set(self, key: str, expected: bytes, new: bytes, *, ttl: float) -> bool:
        key = check_key(key)
        check_value(expected)
        check_value(new)
        seconds = check_ttl(ttl)
        with self._lock:
            if self._live(key, self._clock()) != expected:
                return False
            self._write(key, new, seconds)
            return True

    def delete(self, key: str) -> bool:
        key = check_key(key)
        with self._lock:
            live = self._live(key, self._clock()) is not None
            self._data.pop(key, None)
            return live

    # The helpers below run with self._lock held.

    def _live(self, key: str, now: float) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._data[key]
            return None
        return entry[0]

    def _write(self, key: str, value: bytes, ttl: float) -> None:
        now = self._clock()
        self._sweep(now, _SWEEP_PER_WRITE)
        if key not in self._data and len(self._data) >= self._max_entries:
            self._sweep(now, len(self._expiries))
            if len(self._data) >= self._max_entries:
                raise StoreFull(
                    f"the memory store holds {self._max_entries} live entries; "
                    "raise max_entries or use a RedisStore"
                )
        expires = now + ttl
        self._data[key] = (value, expires)
        heapq.heappush(self._expiries, (expires, key))
        if len(self._expiries) > 2 * len(self._data) + 64:
            # Rewritten keys leave stale heap entries; rebuild before they pile up.
            self._expiries = [(exp, k) for k, (_, exp) in self._data.items()]
            heapq.heapify(self._expiries)

    def _sweep(self, now: float, limit: int) -> None:
        heap = self._expiries
        for _ in range(limit):
            if not heap or heap[0][0] > now:
                return
            expires, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry[1] == expires:
                del self._data[key]
