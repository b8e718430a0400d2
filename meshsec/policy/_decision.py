"""What an authorizer returns: a Decision, and for ``explain`` an Explanation."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# Not slotted: a frozen attrs class with a __dict__ initialises about twice
# as fast, and a Decision is built on every uncached decision.
@attrs.frozen(kw_only=True, slots=False)
class Decision:
    """The outcome of one access decision.

    ``allowed`` is what the enforcement point must do. ``effect`` is
    ``"allow"`` or ``"deny"``; ``rule_id`` is the deciding rule (None for the
    default deny or a refused request); ``reasons`` are human-readable notes,
    including missing attributes and type mismatches met on the way;
    ``obligations`` are handed to the enforcement point; ``policy_version``
    is the ``version_id`` of the policy set that decided; ``decision_id``
    joins the decision to its audit event. ``dry_run`` is ``"would deny"`` or
    ``"would allow"`` when rules in dry-run mode disagree with the enforced
    outcome, with ``dry_run_rule_id`` naming the rule; they never change
    ``allowed``.
    """

    allowed: bool
    effect: Literal["allow", "deny"]
    rule_id: str | None
    reasons: tuple[str, ...] = ()
    obligations: Mapping[str, Any] = _EMPTY
    policy_version: str
    decision_id: str
    dry_run: Literal["would deny", "would allow"] | None = None
    dry_run_rule_id: str | None = None


@attrs.frozen(kw_only=True)
class RuleTrace:
    """How one rule fared in :meth:`Engine.explain`."""

    rule_id: str
    effect: str
    mode: str
    matched: bool
    detail: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Explanation:
    """The decision together with a trace of every rule in the policy set, in id order."""

    decision: Decision
    rules: tuple[RuleTrace, ...]

    def render(self) -> str:
        """A plain-text report for people and the CLI."""
        d = self.decision
        lines = [
            (
                f"decision: {'ALLOW' if d.allowed else 'DENY'} (effect {d.effect}, "
                f"rule {d.rule_id or '-'}, policy {d.policy_version[:12]})"
            )
        ]
        if d.dry_run:
            lines.append(f"dry run: {d.dry_run} (rule {d.dry_run_rule_id})")
        lines.extend(f"  reason: {reason}" for reason in d.reasons)
        for trace in self.rules:
            mark = "MATCH" if trace.matched else "no   "
            lines.append(f"  [{mark}] {trace.rule_id} ({trace.effect}, {trace.mode})")
            lines.extend(f"          {item}" for item in trace.detail)
        return "\n".join(lines)
