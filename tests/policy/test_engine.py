"""Engine behaviour: cache bounds and invalidation, audit events, dry run, explain."""

from __future__ import annotations

import pytest

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.context import SecurityContext
from meshsec.policy import Decision, Engine, PolicyConfigError, Subject

from .helpers import engine, policy, rule

BUSINESS_HOURS = {
    "attr": "context.time",
    "op": "between",
    "value": ["08:00", "18:00"],
    "tz": "Europe/Berlin",
}
# 2024-01-15 10:00 UTC = 11:00 in Berlin
MONDAY_11 = 1_705_312_800


def test_cache_returns_the_same_decision_and_is_bounded() -> None:
    eng = engine(rule("a", principals=["u*"]), cache_size=2)
    first = eng.decide("u1", "read", "doc:1")
    assert eng.decide("u1", "read", "doc:1") is first
    eng.decide("u2", "read", "doc:1")
    eng.decide("u3", "read", "doc:1")
    assert len(eng._state.cache) == 2
    assert eng.decide("u1", "read", "doc:1") is not first  # evicted, recomputed


def test_cache_is_dropped_when_the_policy_changes() -> None:
    eng = engine(rule("a"))
    assert eng.decide("u", "read", "doc:1").allowed
    eng.update(policy(rule("a"), rule("d", "deny")))
    decision = eng.decide("u", "read", "doc:1")
    assert not decision.allowed
    assert decision.policy_version == eng.policy_version


def test_time_dependent_decisions_are_never_cached() -> None:
    clock = FrozenClock(MONDAY_11)
    eng = Engine(policy(rule("a", when=[BUSINESS_HOURS])), clock=clock)
    assert eng.decide("u", "read", "doc:1").allowed
    clock.advance(10 * 3600)  # 21:00 in Berlin
    assert not eng.decide("u", "read", "doc:1").allowed
    assert len(eng._state.cache) == 0


def test_request_time_is_part_of_the_cache_key() -> None:
    eng = Engine(policy(rule("a", when=[BUSINESS_HOURS])), clock=FrozenClock(0))
    assert eng.decide("u", "read", "doc:1", {"time": MONDAY_11}).allowed
    assert not eng.decide("u", "read", "doc:1", {"time": MONDAY_11 + 36_000}).allowed
    assert len(eng._state.cache) == 2


def test_bool_and_int_context_values_do_not_share_cache_entries() -> None:
    eng = engine(rule("a", when=[{"attr": "context.flag", "op": "eq", "value": True}]))
    assert eng.decide("u", "r", "d:1", {"flag": True}).allowed
    assert not eng.decide("u", "r", "d:1", {"flag": 1}).allowed


def test_cache_size_zero_disables_the_cache() -> None:
    eng = engine(rule("a"), cache_size=0)
    assert eng.decide("u", "r", "d:1") is not eng.decide("u", "r", "d:1")


@pytest.mark.parametrize("kw", [{"cache_size": -1}, {"allow_sample_rate": 1.5}])
def test_bad_engine_settings_rejected(kw) -> None:
    with pytest.raises(PolicyConfigError):
        engine(rule("a"), **kw)


def test_engine_needs_a_policy_set() -> None:
    with pytest.raises(PolicyConfigError):
        Engine({"version": 1, "rules": []})  # type: ignore[arg-type]


def test_every_decision_emits_an_authorization_event() -> None:
    eng = engine(rule("a", resources=["doc:*"]), rule("d", "deny", resources=["doc:secret"]))
    with audit.capture() as events:
        allowed = eng.decide("alice", "read", "doc:1")
        denied = eng.decide("alice", "read", "doc:secret")
        again = eng.decide("alice", "read", "doc:secret")  # from the cache
    assert [e.category for e in events] == [audit.Category.AUTHORIZATION] * 3
    assert [e.outcome for e in events] == [
        audit.Outcome.SUCCESS,
        audit.Outcome.DENIED,
        audit.Outcome.DENIED,
    ]
    first, second, third = (e.attributes for e in events)
    assert first["decision_id"] == allowed.decision_id
    assert second["rule_id"] == "d"
    assert second["policy_version"] == denied.policy_version
    assert third["decision_id"] == again.decision_id
    assert third["cached"] is True
    assert events[1].actor == "alice"
    assert events[1].target == "doc:secret"
    assert events[1].reason == "policy.denied"


def test_allows_are_sampled_but_denials_never() -> None:
    eng = engine(rule("a", resources=["doc:1"]), allow_sample_rate=0.0)
    with audit.capture() as events:
        for _ in range(20):
            eng.decide("u", "read", "doc:1")
            eng.decide("u", "read", "doc:2")
    assert len(events) == 20
    assert all(e.outcome == audit.Outcome.DENIED for e in events)


def test_decision_ids_are_unique() -> None:
    eng = engine(rule("a"), cache_size=0)
    ids = {eng.decide("u", "r", f"d:{i}").decision_id for i in range(500)}
    assert len(ids) == 500


def test_dry_run_deny_rule_reports_but_does_not_bite() -> None:
    eng = engine(rule("a"), rule("new-deny", "deny", mode="dry_run", resources=["doc:2"]))
    with audit.capture() as events:
        decision = eng.decide("u", "read", "doc:2")
    assert decision.allowed
    assert decision.rule_id == "a"
    assert decision.dry_run == "would deny"
    assert decision.dry_run_rule_id == "new-deny"
    assert any("would deny" in r for r in decision.reasons)
    assert events[0].attributes["dry_run"] == "would deny"
    assert events[0].outcome == audit.Outcome.SUCCESS
    assert eng.decide("u", "read", "doc:1").dry_run is None


def test_dry_run_allow_rule_reports_but_does_not_allow() -> None:
    eng = engine(rule("new-allow", mode="dry_run"))
    decision = eng.decide("u", "read", "doc:1")
    assert not decision.allowed
    assert decision.dry_run == "would allow"
    assert decision.dry_run_rule_id == "new-allow"


def test_whole_set_in_dry_run_allows_and_reports() -> None:
    eng = Engine(policy(rule("d", "deny", resources=["doc:2"]), rule("a"), mode="dry_run"))
    denied_would_be = eng.decide("u", "read", "doc:2")
    assert denied_would_be.allowed
    assert denied_would_be.dry_run == "would deny"
    assert denied_would_be.dry_run_rule_id == "d"
    assert dict(denied_would_be.obligations) == {}
    assert eng.decide("u", "read", "doc:1").dry_run == "would allow"


def test_explain_traces_every_rule() -> None:
    eng = engine(
        rule("a", principals=["alice"], when=[{"attr": "context.n", "op": "lt", "value": 3}]),
        rule("b", actions=["write"]),
        rule("c", "deny", when=[{"attr": "context.n", "op": "eq", "value": "3"}]),
    )
    with audit.capture() as events:
        explanation = eng.explain("alice", "read", "doc:1", {"n": 1})
    assert events == []  # explaining is not deciding
    assert explanation.decision.allowed
    traces = {t.rule_id: t for t in explanation.rules}
    assert [t.rule_id for t in explanation.rules] == ["a", "b", "c"]
    assert traces["a"].matched
    assert not traces["b"].matched
    assert "action matches no pattern" in traces["b"].detail
    assert not traces["c"].matched
    assert 'when context.n eq "3": type mismatch' in traces["c"].detail
    text = explanation.render()
    assert "ALLOW" in text
    assert "[MATCH] a" in text


def test_security_context_is_accepted_as_subject() -> None:
    eng = engine(rule("a", principals=["spiffe://x/peer"]))
    ctx = SecurityContext(peer_id="spiffe://x/peer")
    assert eng.decide(ctx, "read", "doc:1").allowed


def test_decision_is_frozen_and_repr_hides_nothing_secret() -> None:
    eng = engine(rule("a"))
    decision = eng.decide(Subject(principal="u", claims={"ssn": "123-45-6789"}), "r", "d:1")
    assert isinstance(decision, Decision)
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]
    assert "123-45-6789" not in repr(decision)
    assert "123-45-6789" not in repr(Subject(principal="u", claims={"ssn": "123-45-6789"}))
    assert "Engine(policy_version=" in repr(eng)


def test_http_audit_target_drops_the_query_string() -> None:
    eng = engine(rule("a", resources=["http:/reset"]))
    with audit.capture() as events:
        assert eng.decide("u", "GET", "http:/reset?token=abc123#frag").allowed
    assert events[0].target == "http:/reset"


def test_denial_event_carries_the_correlation_id() -> None:
    from meshsec.correlation import CorrelationContext, scope

    eng = engine(rule("d", "deny"))
    ctx = CorrelationContext.new()
    with scope(ctx), audit.capture() as events:
        decision = eng.decide("u", "read", "doc:1")
    assert events[0].correlation_id == ctx.correlation_id
    assert events[0].attributes["decision_id"] == decision.decision_id
