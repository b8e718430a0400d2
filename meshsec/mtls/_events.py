"""One audit event per refused connection, refused forwarded identity or failed rotation."""

from __future__ import annotations

from collections.abc import Mapping

from meshsec import audit, correlation
from meshsec.errors import MeshsecError
from meshsec.identity import SpiffeId


def refused(
    action: str,
    error: MeshsecError,
    *,
    peer: SpiffeId | None = None,
    attributes: Mapping[str, str] | None = None,
    category: audit.Category = audit.Category.AUTHENTICATION,
) -> None:
    """Record one failure; ``reason`` is the error's stable code.

    The event never carries certificate bytes or key material, only the
    peer's SPIFFE ID (public by design) and protocol facts. The event carries
    the running request's correlation ID, or a fresh one outside any request.
    """
    if not audit.enabled():
        return
    outcome = (
        audit.Outcome.DENIED if error.code == "tls.peer_not_authorized" else audit.Outcome.FAILURE
    )
    if correlation.peek() is not None:
        _record(category, action, outcome, error, peer=peer, attributes=attributes)
        return
    # Outside any request (a bare accept loop): a fresh ID for this event
    # only, so that unrelated refusals on one thread do not share an ID.
    with correlation.bind(correlation.CorrelationContext.new()):
        _record(category, action, outcome, error, peer=peer, attributes=attributes)


def _record(
    category: audit.Category,
    action: str,
    outcome: audit.Outcome,
    error: MeshsecError,
    *,
    peer: SpiffeId | None,
    attributes: Mapping[str, str] | None,
) -> None:
    audit.record(
        category,
        f"mtls.{action}",
        outcome,
        actor=str(peer) if peer is not None else None,
        reason=error.code,
        attributes=dict(attributes or {}),
    )
