"""Deliver events to the configured sinks; next to free when there are none.

The sinks live in one module-level immutable tuple that is swapped whole under
a lock, so :func:`emit` reads it once without locking: with no sink the fast
path is one global read and a return. Nothing is configured at import time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from meshsec.audit._errors import AuditEventError
from meshsec.audit._event import Category, Outcome, SecurityEvent
from meshsec.clock import Clock, system_clock, to_datetime
from meshsec.correlation import CorrelationContext, peek

_log = logging.getLogger("meshsec.audit")


@runtime_checkable
class Sink(Protocol):
    """Where events go. ``emit`` may raise; the emitter contains it.

    A sink may also define ``close()`` (and ``flush()``); :func:`configure`
    never calls them, the owner of the sink does.
    """

    def emit(self, event: SecurityEvent) -> None: ...


_sinks: tuple[Sink, ...] = ()
_lock = threading.Lock()
# id(sink) -> (sink, events dropped because it raised). Holding the sink keeps
# its id from being reused by a new sink that would then never be reported.
_dropped: dict[int, tuple[Sink, int]] = {}
_dropped_total = 0


def configure(*sinks: Sink) -> tuple[Sink, ...]:
    """Replace the process-wide sinks; return the previous ones (to restore later).

    ``configure()`` with no argument turns auditing off.
    """
    global _sinks  # one process-wide, immutable, atomically swapped tuple
    for sink in sinks:
        if not callable(getattr(sink, "emit", None)):
            raise TypeError("an audit sink needs an emit(event) method")
    with _lock:
        previous, _sinks = _sinks, tuple(sinks)
    return previous


def enabled() -> bool:
    """True when at least one sink is configured (skip building costly attributes if not)."""
    return bool(_sinks)


def emit(event: SecurityEvent) -> None:
    """Deliver ``event`` to every configured sink. Never raises because of a sink.

    Raises :class:`AuditEventError` when sinks are configured and ``event`` is
    not a :class:`SecurityEvent` (it would only fail inside every sink, and be
    blamed on them).
    """
    sinks = _sinks
    if not sinks:
        return
    if not isinstance(event, SecurityEvent):
        raise AuditEventError(
            "audit.emit() needs a SecurityEvent; use audit.record(...) to build one"
        )
    _deliver(sinks, event)


def record(
    category: Category | str,
    action: str,
    outcome: Outcome | str,
    *,
    actor: str | None = None,
    target: str | None = None,
    reason: str | BaseException | type[BaseException] | None = None,
    attributes: Mapping[str, object] | None = None,
    clock: Clock = system_clock,
) -> None:
    """Build and emit one event; does nothing (and builds nothing) with no sink.

    Fills the timestamp from ``clock`` and the correlation and trace IDs from
    the bound correlation context; escapes and redacts every value.
    ``reason`` is an error code; an exception (or exception class) given
    instead is recorded as its ``code``, never its message.
    """
    sinks = _sinks
    if not sinks:
        return
    event = SecurityEvent(
        timestamp=to_datetime(clock),
        category=category,
        action=action,
        outcome=outcome,
        actor=actor,
        target=target,
        reason=reason,
        attributes=attributes,
    )
    _deliver(sinks, event)


def record_correlation_rejections(
    context: CorrelationContext | None = None, *, clock: Clock = system_clock
) -> None:
    """Emit one event when a request's correlation headers were not accepted as sent.

    ``meshsec.correlation`` sits below audit, so it only records why it
    replaced a correlation ID, restarted a trace or dropped baggage (on
    ``CorrelationContext.rejected``); whoever extracted the headers calls this
    once per request. Only the reason codes go into the event, never the
    hostile values themselves.
    """
    ctx = context if context is not None else peek()
    if ctx is None or not ctx.rejected or not _sinks:
        return
    record(
        Category.AUTHENTICATION,
        "correlation.input_rejected",
        Outcome.FAILURE,
        reason=ctx.rejected[0],
        attributes={"reasons": " ".join(ctx.rejected)},
        clock=clock,
    )


def _deliver(sinks: tuple[Sink, ...], event: SecurityEvent) -> None:
    for sink in sinks:
        try:
            sink.emit(event)
        except Exception as exc:  # noqa: BLE001  # a broken sink must never break the caller's request
            _count_drop(sink, exc)


def _count_drop(sink: Sink, exc: Exception) -> None:
    global _dropped_total  # noqa: PLW0603  # process-wide counter, guarded by _lock
    with _lock:
        first = id(sink) not in _dropped
        _dropped[id(sink)] = (sink, _dropped.get(id(sink), (sink, 0))[1] + 1)
        _dropped_total += 1
    if first:
        # Only the types: an exception message could quote the event's content.
        _log.error(
            "audit sink %s raised %s; its events are being dropped (see audit.dropped_count())",
            type(sink).__name__,
            type(exc).__name__,
        )


def dropped_count(sink: Sink | None = None) -> int:
    """Events dropped because a sink raised: for one sink, or in total."""
    with _lock:
        return _dropped_total if sink is None else _dropped.get(id(sink), (sink, 0))[1]


class _CaptureSink:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []

    def emit(self, event: SecurityEvent) -> None:
        self.events.append(event)  # list.append is atomic: safe from server threads

    def __repr__(self) -> str:
        return f"<capture sink: {len(self.events)} events>"


@contextlib.contextmanager
def capture() -> Iterator[list[SecurityEvent]]:
    """Collect every event emitted while the block runs, from any thread.

    A test helper: the capture sink is added process-wide beside the
    configured sinks and removed on exit; the list stays readable afterwards.

    >>> with capture() as events:
    ...     record("authentication", "login", "success", actor="alice")
    >>> [(e.action, e.outcome.value) for e in events]
    [('login', 'success')]
    """
    global _sinks  # noqa: PLW0603  # the one process-wide tuple, see configure()
    sink = _CaptureSink()
    with _lock:
        _sinks = (*_sinks, sink)
    try:
        yield sink.events
    finally:
        with _lock:
            _sinks = tuple(s for s in _sinks if s is not sink)
