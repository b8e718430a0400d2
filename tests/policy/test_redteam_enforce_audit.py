"""Red team: enforcement points leak nothing, and every denial is audited once, correlated."""

from __future__ import annotations

import asyncio
import threading

import pytest

from meshsec import audit, correlation
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.correlation import CorrelationContext
from meshsec.policy import AccessDenied, Engine, PolicySet, check, enforce, require_scopes

from .helpers import engine, policy, rule

SECRET_RULE = "deny-tenant-4711-over-limit"
ENGINE = engine(
    rule("allow-read", actions=["read"], obligations={"mask": "ssn"}),
    rule(SECRET_RULE, "deny", when=[{"attr": "context.amount", "op": "gt", "value": 9000}]),
)


@enforce("read", context=lambda amount: {"amount": amount}, engine=ENGINE)
def read(amount: int) -> dict:
    return dict(current_security_context().obligations)


@enforce("read", context=lambda amount: {"amount": amount}, engine=ENGINE)
async def read_async(amount: int) -> dict:
    await asyncio.sleep(0)
    return dict(current_security_context().obligations)


def test_access_denied_carries_the_decision_id_and_nothing_of_the_policy() -> None:
    with (
        run_as(SecurityContext(principal="alice")),
        audit.capture() as events,
        pytest.raises(AccessDenied) as info,
    ):
        read(9001)
    err = info.value
    assert err.code == "policy.denied"
    assert err.decision_id == events[-1].attributes["decision_id"]
    text = f"{err} {err!r} {err.args}"
    assert SECRET_RULE not in text
    assert "9000" not in text
    assert "amount" not in text
    assert ENGINE.policy_version not in text


def test_async_denial_is_raised_before_the_body_runs() -> None:
    ran = []

    @enforce("write", engine=ENGINE)
    async def write() -> None:
        ran.append(True)

    with run_as(SecurityContext(principal="alice")), pytest.raises(AccessDenied):
        asyncio.run(write())
    assert ran == []


def test_obligations_reach_sync_and_async_bodies_and_do_not_outlive_them() -> None:
    with run_as(SecurityContext(principal="alice")):
        assert read(1) == {"mask": "ssn"}
        assert asyncio.run(read_async(1)) == {"mask": "ssn"}
        assert dict(current_security_context().obligations) == {}


def test_caller_obligations_cannot_stand_in_for_a_decision() -> None:
    forged = SecurityContext(principal="alice", obligations={"clearance": "top"})
    with run_as(forged), pytest.raises(AccessDenied):
        check("write", engine=ENGINE)


def test_subject_comes_from_the_security_context_only() -> None:
    only_bob = engine(rule("bob", principals=["bob"]))

    @enforce("read", resource=lambda principal: f"user:{principal}", engine=only_bob)
    def lookup(principal: str) -> str:
        return principal

    with run_as(SecurityContext(principal="mallory")), pytest.raises(AccessDenied):
        lookup(principal="bob")
    with run_as(SecurityContext(peer_id="bob")):
        assert lookup("bob") == "bob"  # no principal: the mTLS peer ID is the subject


def test_every_denial_is_audited_once_with_ids_and_correlation() -> None:
    fresh = Engine(ENGINE.policy_set)

    @enforce("read", context=lambda amount: {"amount": amount}, engine=fresh)
    def read(amount: int) -> dict:
        return {}

    ctx = CorrelationContext(correlation_id="corr-redteam-1")
    with (
        correlation.bind(ctx),
        run_as(SecurityContext(principal="alice")),
        audit.capture() as events,
    ):
        for _ in range(3):  # the second and third come from the cache
            with pytest.raises(AccessDenied):
                read(9001)
    assert len(events) == 3
    for event in events:
        assert event.category == audit.Category.AUTHORIZATION
        assert event.outcome == audit.Outcome.DENIED
        assert event.reason == "policy.denied"
        assert event.correlation_id == "corr-redteam-1"
        assert event.attributes["rule_id"] == SECRET_RULE
        assert event.attributes["policy_version"] == ENGINE.policy_version
        assert event.attributes["decision_id"]
    assert [e.attributes["cached"] for e in events] == [False, True, True]


def test_refused_requests_are_audited_too() -> None:
    with audit.capture() as events:
        decision = ENGINE.decide("alice", "read", "http:/%2fadmin")
    assert not decision.allowed
    assert len(events) == 1
    assert events[0].outcome == audit.Outcome.DENIED
    assert events[0].attributes["decision_id"] == decision.decision_id


def test_audit_events_hold_no_attribute_values() -> None:
    with audit.capture() as events:
        ENGINE.decide(
            {"principal": "alice", "claims": {"ssn": "078-05-1120"}},
            "read",
            {"type": "http", "id": "/x?token=s3cr3t#frag"},
            {"amount": 9001, "card": "4111111111111111"},
        )
    text = repr(events)
    for secret in ("078-05-1120", "s3cr3t", "4111111111111111", "9001"):
        assert secret not in text


def test_dry_run_would_deny_is_audited_but_allows() -> None:
    watch = Engine(
        policy(
            rule("allow"),
            rule("new-deny", "deny", mode="dry_run", resources=["doc:secret"]),
        )
    )
    with audit.capture() as events:
        decision = watch.decide("alice", "read", "doc:secret")
    assert decision.allowed
    assert events[0].outcome == audit.Outcome.SUCCESS
    assert events[0].attributes["dry_run"] == "would deny"
    assert events[0].attributes["dry_run_rule_id"] == "new-deny"


def test_require_scopes_denial_is_audited_with_its_decision_id() -> None:
    @require_scopes("orders.write")
    def write() -> None:
        raise AssertionError("ran without the scope")

    with (
        run_as(SecurityContext(principal="alice", scopes={"orders.read"})),
        audit.capture() as events,
        pytest.raises(AccessDenied) as info,
    ):
        write()
    assert len(events) == 1
    assert events[0].attributes["decision_id"] == info.value.decision_id


def test_policy_swap_under_concurrent_deciding_never_mixes_versions() -> None:
    allow = PolicySet.from_dict({"version": 1, "rules": [rule("a")]})
    deny = PolicySet.from_dict({"version": 1, "rules": [rule("a"), rule("d", "deny")]})
    eng = Engine(allow, cache_size=16)
    expected = {allow.version_id: True, deny.version_id: False}
    bad: list[object] = []
    stop = threading.Event()

    def decide() -> None:
        while not stop.is_set():
            d = eng.decide("u", "r", "doc:1")
            if expected[d.policy_version] is not d.allowed:
                bad.append(d)

    threads = [threading.Thread(target=decide) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(300):
        eng.update(deny if i % 2 else allow)
    stop.set()
    for t in threads:
        t.join()
    assert bad == []
