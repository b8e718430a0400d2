"""Why extract() replaced or dropped part of the incoming headers, and how often.

Correlation sits below audit in the layering, so it cannot emit audit events
itself. Instead every rejection is (1) recorded as a reason code on the
extracted ``CorrelationContext.rejected`` tuple, from which the integrations
and ``meshsec.audit`` emit one event per request, and (2) counted in a
process-wide counter that metrics exporters can read with
:func:`rejection_counts`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable


class Rejection(enum.StrEnum):
    """Reason codes for correlation input that was not accepted as sent."""

    #: The correlation ID was not ``[A-Za-z0-9._:-]{1,128}``; a fresh one was generated.
    INVALID_ID = "correlation.invalid_id"
    #: traceparent broke the W3C rules; a new trace was started (tracestate ignored).
    INVALID_TRACEPARENT = "correlation.invalid_traceparent"
    #: tracestate broke the W3C rules or limits; it was dropped as a whole.
    INVALID_TRACESTATE = "correlation.invalid_tracestate"
    #: One or more baggage entries were malformed or beyond the W3C limits.
    BAGGAGE_DROPPED = "correlation.baggage_dropped"
    #: One or more baggage entries had secret-looking keys and were dropped.
    BAGGAGE_SECRET_DROPPED = "correlation.baggage_secret_dropped"  # noqa: S105  a reason code, not a secret
    #: Conflicting duplicates of a single-valued header (e.g. two traceparents).
    DUPLICATE_HEADER = "correlation.duplicate_header"


_lock = threading.Lock()
_counts: dict[str, int] = {reason.value: 0 for reason in Rejection}


def count(reasons: Iterable[str]) -> None:
    # Rejections are rare, so a lock on this path costs nothing on the hot one.
    with _lock:
        for reason in reasons:
            _counts[reason] = _counts.get(reason, 0) + 1


def rejection_counts() -> dict[str, int]:
    """A snapshot of how many times each :class:`Rejection` happened in this process."""
    with _lock:
        return dict(_counts)
