"""Audit events for the token package.

Events go through :func:`meshsec.audit.record`, which fills the timestamp and
correlation ID and costs next to nothing without a sink. No event ever holds
a token, a signature or key material: only codes, kids and configured names.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def record(
    category: str,
    action: str,
    outcome: str,
    *,
    reason: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    attributes: Mapping[str, str | int | bool] | None = None,
) -> None:
    """Record one audit event (categories and outcomes by enum member name)."""
    try:
        audit: Any = importlib.import_module("meshsec.audit")
    except ImportError:  # meshsec.audit lands in a parallel change; until then, drop.
        return
    audit.record(
        getattr(audit.Category, category),
        action,
        getattr(audit.Outcome, outcome),
        actor=actor,
        target=target,
        reason=reason,
        attributes=dict(attributes) if attributes else None,
    )
