"""The one injectable clock.

A clock is any zero-argument callable returning POSIX seconds as a float,
exactly like :func:`time.time`, which is the default everywhere. Every
time-sensitive meshsec API takes ``clock=``; tests pass a :class:`FrozenClock`
and move it instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "FrozenClock", "system_clock", "to_datetime"]

Clock = Callable[[], float]

system_clock: Clock = time.time


def to_datetime(clock: Clock = system_clock) -> datetime:
    """Return the clock's current time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock(), tz=UTC)


class FrozenClock:
    """A clock that stands still until told to move. Thread-safe.

    >>> clock = FrozenClock(1_700_000_000)
    >>> clock.advance(timedelta(minutes=5))
    >>> clock()
    1700000300.0
    """

    def __init__(self, start: float | datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = self._seconds(time.time() if start is None else start)

    def __call__(self) -> float:
        return self._now

    def advance(self, delta: float | timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else _finite(delta)
        with self._lock:
            self._now = _finite(self._now + seconds)

    def set(self, when: float | datetime) -> None:
        """Jump to an absolute time."""
        with self._lock:
            self._now = self._seconds(when)

    def __repr__(self) -> str:
        return f"FrozenClock({to_datetime(self).isoformat()!r})"

    @staticmethod
    def _seconds(when: float | datetime) -> float:
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError("FrozenClock needs an aware datetime (tzinfo=UTC)")
            return when.timestamp()
        return _finite(when)


def _finite(value: float) -> float:
    # NaN compares false with everything: a NaN "now" would make every
    # "now > expiry" check pass silently, so a frozen clock refuses it.
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError("a clock reading must be a finite number of seconds")
    return seconds
