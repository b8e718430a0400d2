"""Audit events of the identity area (category ``certificate``).

One place builds them so that every event carries the same attribute names
(``serial`` in hex, ``not_after`` in ISO 8601) and never a key. Event
timestamps follow the injected clock of the object that emits them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from meshsec import audit, correlation
from meshsec.clock import Clock, system_clock


@contextlib.contextmanager
def _correlated() -> Iterator[None]:
    """Outside any request (a renewal thread, a CLI run) give the event its own ID.

    Every security event carries a correlation ID; unrelated events on one
    thread must not share one, so a fresh ID is bound for this event only.
    """
    if correlation.peek() is not None:
        yield
        return
    with correlation.bind(correlation.CorrelationContext.new()):
        yield


def certificate_success(
    action: str,
    *,
    actor: str,
    target: str,
    serial: int,
    not_after: datetime,
    extra: dict[str, str] | None = None,
    clock: Clock = system_clock,
) -> None:
    if not audit.enabled():
        return
    attributes = {"serial": f"{serial:x}", "not_after": not_after.isoformat()}
    attributes.update(extra or {})
    with _correlated():
        audit.record(
            audit.Category.CERTIFICATE,
            action,
            audit.Outcome.SUCCESS,
            actor=actor,
            target=target,
            attributes=attributes,
            clock=clock,
        )


def certificate_failure(
    action: str,
    *,
    actor: str,
    target: str | None,
    reason: str,
    denied: bool = False,
    clock: Clock = system_clock,
) -> None:
    if not audit.enabled():
        return
    with _correlated():
        audit.record(
            audit.Category.CERTIFICATE,
            action,
            audit.Outcome.DENIED if denied else audit.Outcome.FAILURE,
            actor=actor,
            target=target,
            reason=reason,
            clock=clock,
        )
