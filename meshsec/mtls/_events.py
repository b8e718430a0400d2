"""One audit event per refused connection or forwarded identity."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from meshsec.errors import MeshsecError
from meshsec.identity import SpiffeId
from meshsec.mtls._matchers import matches

__all__ = ["matches", "refused"]


def _audit() -> Any:
    # TODO(mtls): import meshsec.audit directly once it lands on main.
    try:
        return importlib.import_module("meshsec.audit")
    except ImportError:  # pragma: no cover - only before meshsec.audit exists
        return None


def refused(
    action: str,
    error: MeshsecError,
    *,
    peer: SpiffeId | None = None,
    attributes: Mapping[str, str] | None = None,
) -> None:
    """Record an authentication failure; ``reason`` is the error's stable code.

    The event never carries certificate bytes or key material, only the
    peer's SPIFFE ID (public by design) and protocol facts.
    """
    audit = _audit()
    if audit is None:  # pragma: no cover - only before meshsec.audit exists
        return
    audit.record(
        audit.Category.AUTHENTICATION,
        f"mtls.{action}",
        audit.Outcome.DENIED if error.code == "tls.peer_not_authorized" else audit.Outcome.FAILURE,
        actor=str(peer) if peer is not None else None,
        reason=error.code,
        attributes=dict(attributes or {}),
    )
