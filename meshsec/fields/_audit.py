"""The one place fields talks to :mod:`meshsec.audit`."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def record(
    category: str,
    action: str,
    outcome: str,
    *,
    target: str | None = None,
    reason: str | None = None,
    attributes: Mapping[str, object] | None = None,
) -> None:
    """Emit one security event; free when no sink is configured."""
    try:
        audit: Any = importlib.import_module("meshsec.audit")
    except ModuleNotFoundError:  # until meshsec.audit lands on this branch
        return
    actor = _actor()
    audit.record(
        getattr(audit.Category, category),
        action,
        getattr(audit.Outcome, outcome),
        actor=actor,
        target=target,
        reason=reason,
        attributes=attributes,
    )


def _actor() -> str | None:
    from meshsec.context import current_security_context

    caller = current_security_context()
    return caller.principal or caller.peer_id
