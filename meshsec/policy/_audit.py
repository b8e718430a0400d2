"""The one place the policy package talks to the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshsec import audit

if TYPE_CHECKING:
    from meshsec.policy._decision import Decision


# Re-bound, not wrapped: it is called on every decision.
enabled = audit.enabled


def decision(
    decision: Decision, *, action: str, actor: str | None, target: str, cached: bool
) -> None:
    """One ``authorization`` event per decision, carrying its id, rule and policy version."""
    attributes: dict[str, Any] = {
        "decision_id": decision.decision_id,
        "rule_id": decision.rule_id,
        "policy_version": decision.policy_version,
        "effect": decision.effect,
        "cached": cached,
    }
    if decision.dry_run is not None:
        attributes["dry_run"] = decision.dry_run
        attributes["dry_run_rule_id"] = decision.dry_run_rule_id
    authorization(
        allowed=decision.allowed, action=action, actor=actor, target=target, attributes=attributes
    )


def authorization(
    *, allowed: bool, action: str, actor: str | None, target: str, attributes: dict[str, Any]
) -> None:
    audit.record(
        audit.Category.AUTHORIZATION,
        action,
        audit.Outcome.SUCCESS if allowed else audit.Outcome.DENIED,
        actor=actor,
        target=target,
        reason=None if allowed else "policy.denied",
        attributes=attributes,
    )


def configuration(
    *, ok: bool, action: str, target: str, reason: str | None, attributes: dict[str, Any]
) -> None:
    audit.record(
        audit.Category.CONFIGURATION,
        action,
        audit.Outcome.SUCCESS if ok else audit.Outcome.FAILURE,
        target=target,
        reason=reason,
        attributes=attributes,
    )
