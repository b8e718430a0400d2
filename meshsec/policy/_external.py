"""What every external decision point shares: decision ids, the Decision, the audit event."""

from __future__ import annotations

import itertools
import secrets

from meshsec.policy import _audit
from meshsec.policy._decision import Decision
from meshsec.policy._engine import actor_of, target_of
from meshsec.policy._request import ResourceLike, SubjectLike


class ExternalDecisions:
    """Turns an external engine's answer into a Decision and its audit event."""

    def __init__(self, kind: str, policy_version: str) -> None:
        self.policy_version = policy_version
        # A random prefix per instance: ids never collide across processes.
        self._id_prefix = f"{kind}-{secrets.token_hex(6)}-"
        self._ids = itertools.count(1)

    def record(
        self,
        *,
        allowed: bool,
        rule_id: str | None,
        reasons: tuple[str, ...],
        subject: SubjectLike,
        action: str,
        resource: ResourceLike,
    ) -> Decision:
        decision = Decision(
            allowed=allowed,
            effect="allow" if allowed else "deny",
            rule_id=rule_id,
            reasons=reasons,
            policy_version=self.policy_version,
            decision_id=f"{self._id_prefix}{next(self._ids):x}",
        )
        _audit.decision(
            decision,
            action=str(action)[:256],
            actor=actor_of(subject),
            target=target_of(resource),
            cached=False,
        )
        return decision
