"""Audit events of the identity area (category ``certificate``).

One place builds them so that every event carries the same attribute names
(``serial`` in hex, ``not_after`` in ISO 8601) and never a key. Event
timestamps follow the injected clock of the object that emits them.
"""

from __future__ import annotations

from datetime import datetime

from meshsec import audit
from meshsec.clock import Clock, system_clock


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
    attributes = {"serial": f"{serial:x}", "not_after": not_after.isoformat()}
    attributes.update(extra or {})
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
    audit.record(
        audit.Category.CERTIFICATE,
        action,
        audit.Outcome.DENIED if denied else audit.Outcome.FAILURE,
        actor=actor,
        target=target,
        reason=reason,
        clock=clock,
    )
