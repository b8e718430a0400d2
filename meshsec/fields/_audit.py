"""The one place fields talks to :mod:`meshsec.audit` (actor from the security context)."""

from __future__ import annotations

from collections.abc import Mapping

from meshsec import audit
from meshsec.context import current_security_context


def record(
    category: audit.Category,
    action: str,
    outcome: audit.Outcome,
    *,
    target: str | None = None,
    reason: str | None = None,
    attributes: Mapping[str, object] | None = None,
) -> None:
    """Emit one security event; free when no sink is configured."""
    if not audit.enabled():
        return
    caller = current_security_context()
    audit.record(
        category,
        action,
        outcome,
        actor=caller.principal or caller.peer_id,
        target=target,
        reason=reason,
        attributes=attributes,
    )
