"""Audit events of the identity area (category ``certificate``).

One place builds them so that every event carries the same attribute names
(``serial`` in hex, ``not_after`` in ISO 8601) and never a key.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any


def _audit() -> Any:
    # TODO(identity): import meshsec.audit directly once it lands on main.
    try:
        return importlib.import_module("meshsec.audit")
    except ImportError:  # pragma: no cover - only before meshsec.audit exists
        return None


def certificate_success(
    action: str,
    *,
    actor: str,
    target: str,
    serial: int,
    not_after: datetime,
    extra: dict[str, str] | None = None,
) -> None:
    audit = _audit()
    if audit is None:  # pragma: no cover
        return
    attributes = {"serial": f"{serial:x}", "not_after": not_after.isoformat()}
    attributes.update(extra or {})
    audit.record(
        audit.Category.CERTIFICATE,
        action,
        audit.Outcome.SUCCESS,
        actor=actor,
        target=target,
        attributes=attributes,
    )


def certificate_failure(
    action: str, *, actor: str, target: str | None, reason: str, denied: bool = False
) -> None:
    audit = _audit()
    if audit is None:  # pragma: no cover
        return
    audit.record(
        audit.Category.CERTIFICATE,
        action,
        audit.Outcome.DENIED if denied else audit.Outcome.FAILURE,
        actor=actor,
        target=target,
        reason=reason,
    )
