"""Enforcement points: @enforce (sync and async), check, require_scopes."""

from __future__ import annotations

import asyncio

import pytest

from meshsec import audit
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.errors import PolicyError
from meshsec.policy import (
    AccessDenied,
    Authorizer,
    PolicyConfigError,
    check,
    enforce,
    require_scopes,
    use_authorizer,
)

from .helpers import engine, rule

ORDERS = "spiffe://example.org/ns/prod/sa/orders"
ENGINE = engine(
    rule(
        "orders-charge",
        principals=[ORDERS],
        actions=["payments:charge"],
        resources=["payment:*"],
        when=[{"attr": "resource.tenant", "op": "eq", "ref": "subject.claims.tenant"}],
        obligations={"clearance": "confidential"},
    ),
    rule("no-big", "deny", when=[{"attr": "context.amount", "op": "ge", "value": 1000}]),
)
CALLER = SecurityContext(principal=ORDERS, claims={"tenant": "t1"}, scopes={"pay"})


def _payment(payment_id: str, tenant: str, amount: int = 1):
    return {"type": "payment", "id": payment_id, "attributes": {"tenant": tenant}}


@enforce(
    "payments:charge",
    resource=_payment,
    context=lambda payment_id, tenant, amount=1: {"amount": amount},
    engine=ENGINE,
)
def charge(payment_id: str, tenant: str, amount: int = 1) -> dict:
    return dict(current_security_context().obligations)


@enforce("payments:charge", resource=_payment, engine=ENGINE)
async def charge_async(payment_id: str, tenant: str) -> dict:
    await asyncio.sleep(0)
    return dict(current_security_context().obligations)


def test_enforce_allows_and_exposes_obligations() -> None:
    with run_as(CALLER):
        assert charge("p1", "t1") == {"clearance": "confidential"}
        assert current_security_context().obligations == {}  # restored after the call


def test_enforce_denies_other_tenant_with_decision_id_only() -> None:
    with run_as(CALLER), audit.capture() as events, pytest.raises(AccessDenied) as info:
        charge("p1", "t2")
    err = info.value
    assert isinstance(err, PolicyError)
    assert err.code == "policy.denied"
    assert err.decision_id == events[-1].attributes["decision_id"]
    assert "tenant" not in str(err)
    assert "orders-charge" not in str(err)


def test_enforce_deny_rule_on_context() -> None:
    with run_as(CALLER), pytest.raises(AccessDenied):
        charge("p1", "t1", amount=5000)


def test_enforce_anonymous_caller_is_denied() -> None:
    with pytest.raises(AccessDenied):
        charge("p1", "t1")


def test_enforce_async() -> None:
    async def main() -> dict:
        with run_as(CALLER):
            return await charge_async("p1", "t1")

    assert asyncio.run(main()) == {"clearance": "confidential"}

    async def denied() -> None:
        with run_as(CALLER.evolve(principal="spiffe://example.org/ns/prod/sa/web")):
            await charge_async("p1", "t1")

    with pytest.raises(AccessDenied):
        asyncio.run(denied())


def test_enforce_runs_nothing_when_denied() -> None:
    calls = []

    @enforce("x", engine=engine())
    def side_effect() -> None:
        calls.append(1)

    with pytest.raises(AccessDenied):
        side_effect()
    assert calls == []


def test_check_and_use_authorizer() -> None:
    with run_as(CALLER), use_authorizer(ENGINE):
        decision = check("payments:charge", resource=_payment("p", "t1"))
        assert decision.allowed
        with pytest.raises(AccessDenied):
            check("payments:refund", resource="payment:p")


def test_missing_authorizer_is_a_config_error() -> None:
    with pytest.raises(PolicyConfigError):
        check("x")


def test_engine_implements_authorizer() -> None:
    assert isinstance(ENGINE, Authorizer)


def test_require_scopes() -> None:
    @require_scopes("pay", "read")
    def both() -> str:
        return "ok"

    @require_scopes("pay")
    async def pay() -> str:
        return "ok"

    with run_as(CALLER.evolve(scopes={"pay", "read", "x"})):
        assert both() == "ok"
    with run_as(CALLER), audit.capture() as events, pytest.raises(AccessDenied) as info:
        both()
    assert events[0].attributes["missing_scopes"] == "read"
    assert events[0].attributes["decision_id"] == info.value.decision_id

    async def run() -> str:
        with run_as(CALLER):
            return await pay()

    assert asyncio.run(run()) == "ok"
    with pytest.raises(AccessDenied):
        asyncio.run(pay())


def test_require_scopes_needs_names() -> None:
    with pytest.raises(PolicyConfigError):
        require_scopes()
