"""Policy enforcement end to end: a policy file, hot reload, a decorated
service function, a denial in the audit trail, and a dry-run rule.

Run: ``python examples/policy_enforcement.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from meshsec import audit
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.correlation import CorrelationContext, scope
from meshsec.policy import AccessDenied, Engine, PolicyStore, enforce

ORDERS = "spiffe://example.org/ns/prod/sa/orders"
WEB = "spiffe://example.org/ns/prod/sa/web"

POLICY = {
    "version": 1,
    "rules": [
        {
            "id": "orders-may-charge",
            "effect": "allow",
            "principals": [ORDERS],
            "actions": ["payments:charge"],
            "resources": ["payment:*"],
            "when": [
                {"attr": "context.amount", "op": "lt", "value": 1000},
                {"attr": "resource.tenant", "op": "eq", "ref": "subject.claims.tenant"},
            ],
            "obligations": {"clearance": "confidential"},
        }
    ],
}


def write_policy(path: Path, document: dict, bump: int) -> None:
    path.write_text(json.dumps(document, indent=2))
    stamp = time.time() + bump  # make the edit visible to mtime polling at once
    os.utime(path, (stamp, stamp))


def build_service(engine: Engine):
    @enforce(
        "payments:charge",
        resource=lambda payment_id, tenant, amount: {
            "type": "payment",
            "id": payment_id,
            "attributes": {"tenant": tenant},
        },
        context=lambda payment_id, tenant, amount: {"amount": amount},
        engine=engine,
    )
    def charge(payment_id: str, tenant: str, amount: int) -> str:
        obligations = dict(current_security_context().obligations)
        return f"charged {amount} on {payment_id} (obligations {obligations})"

    return charge


def call(charge, caller: SecurityContext, *args: object) -> None:
    with scope(CorrelationContext.new()), run_as(caller):
        try:
            print("  ok:    ", charge(*args))
        except AccessDenied as exc:
            print(f"  denied: [{exc.code}] {exc}")


def show(events: list[audit.SecurityEvent]) -> None:
    for e in events:
        a = e.attributes
        print(
            f"  audit: {e.category.value}/{e.outcome.value} action={e.action} actor={e.actor} "
            f"rule={a.get('rule_id')} decision={a.get('decision_id')} "
            f"dry_run={a.get('dry_run')} correlation={e.correlation_id}"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "policy.json")
        write_policy(path, POLICY, 0)
        store = PolicyStore(path)
        engine = Engine(store)
        charge = build_service(engine)
        orders = SecurityContext(principal=ORDERS, peer_id=ORDERS, claims={"tenant": "t1"})
        web = SecurityContext(principal=WEB, peer_id=WEB, claims={"tenant": "t1"})

        print("1. the orders service may charge its own tenant's payments")
        with audit.capture() as events:
            call(charge, orders, "p-1", "t1", 250)
            call(charge, orders, "p-2", "t2", 250)  # another tenant: default deny
            call(charge, web, "p-3", "t1", 250)  # the web tier may not charge at all
        show(events)

        print("2. an administrator adds a dry-run rule; the store reloads it")
        watched = json.loads(json.dumps(POLICY))
        watched["rules"].append(
            {
                "id": "no-large-charges",
                "effect": "deny",
                "mode": "dry_run",
                "principals": ["*"],
                "actions": ["payments:*"],
                "resources": ["*"],
                "when": [{"attr": "context.amount", "op": "ge", "value": 500}],
            }
        )
        write_policy(path, watched, 5)
        with audit.capture() as events:
            assert store.poll()
            call(charge, orders, "p-4", "t1", 750)  # still allowed, reported as "would deny"
        show(events)

        print("3. a broken edit is refused; the last good policy stays in force")
        path.write_text('{"version": 1, "rules": [{"id": "oops"}]}')
        with audit.capture() as events:
            assert not store.poll()
        show(events)
        print(f"  policy in force: {engine.policy_version[:12]}")


if __name__ == "__main__":
    main()
