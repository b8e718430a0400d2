"""Shared builders for the policy tests."""

from __future__ import annotations

from typing import Any

from meshsec.clock import FrozenClock
from meshsec.policy import Engine, PolicySet


def rule(rule_id: str, effect: str = "allow", **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": rule_id,
        "effect": effect,
        "principals": ["*"],
        "actions": ["*"],
        "resources": ["*"],
    }
    doc.update(fields)
    return doc


def policy(*rules: dict[str, Any], **top: Any) -> PolicySet:
    return PolicySet.from_dict({"version": 1, "rules": list(rules), **top})


def engine(*rules: dict[str, Any], clock: Any = None, **kw: Any) -> Engine:
    return Engine(policy(*rules), clock=clock or FrozenClock(1_700_000_000), **kw)
