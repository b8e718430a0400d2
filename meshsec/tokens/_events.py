"""Audit events for the token package.

Events go through :func:`meshsec.audit.record`, which fills the timestamp and
correlation ID and costs next to nothing without a sink. No event ever holds
a token, a signature or key material: only error codes, kids and the names a
service configured.
"""

from __future__ import annotations

from collections.abc import Mapping

from meshsec import audit
from meshsec.clock import Clock, system_clock


def record(
    category: str,
    action: str,
    outcome: str,
    *,
    reason: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    attributes: Mapping[str, str | int | bool] | None = None,
    clock: Clock = system_clock,
) -> None:
    """Record one audit event (category and outcome by enum member name)."""
    audit.record(
        audit.Category[category],
        action,
        audit.Outcome[outcome],
        actor=actor,
        target=target,
        reason=reason,
        attributes=attributes,
        clock=clock,
    )
