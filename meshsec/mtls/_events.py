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
    peer's SPIFFE ID (public by design) and protocol facts. A correlation
    context is bound first, so even a refusal outside any request (a bare
    accept loop) carries a correlation ID that later log lines can share.
    """
    if not audit.enabled():
        return
    correlation.current()
    outcome = (
        audit.Outcome.DENIED if error.code == "tls.peer_not_authorized" else audit.Outcome.FAILURE
    )
    audit.record(
        category,
        f"mtls.{action}",
        outcome,
        actor=str(peer) if peer is not None else None,
        reason=error.code,
        attributes=dict(attributes or {}),
    )
