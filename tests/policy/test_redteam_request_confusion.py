"""Red team: hostile request data must deny (never crash) and never poison the cache."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.policy import Engine, PolicyConfigError, Resource, Subject

from .helpers import engine, policy, rule

KEY_RULE = rule("key-one", when=[{"attr": "context.1", "op": "eq", "value": "x"}])


def test_int_and_str_context_keys_do_not_share_a_cache_entry() -> None:
    cached = engine(KEY_RULE)
    assert cached.decide("u", "a", "t:1", {"1": "x"}).allowed
    # {1: "x"} has no attribute named "1": the engine must not serve the allow above.
    assert not cached.decide("u", "a", "t:1", {1: "x"}).allowed
    other_order = engine(KEY_RULE)
    assert not other_order.decide("u", "a", "t:1", {1: "x"}).allowed
    assert other_order.decide("u", "a", "t:1", {"1": "x"}).allowed


def test_mixed_type_context_keys_deny_instead_of_crashing() -> None:
    decision = engine(KEY_RULE).decide("u", "a", "t:1", {1: "a", "1": 2})
    assert not decision.allowed
    assert "rule key-one: context.1 type mismatch" in decision.reasons


def test_mixed_type_claim_keys_do_not_crash() -> None:
    subject = Subject(principal="u", claims={1: "a", "1": ("b",)})
    assert engine(rule("r")).decide(subject, "a", "t:1").allowed


@pytest.mark.parametrize(
    "make",
    [
        lambda: Subject(principal=5),  # type: ignore[arg-type]
        lambda: Subject(peer_id=b"spiffe://x"),  # type: ignore[arg-type]
        lambda: Resource(type=1, id="x"),  # type: ignore[arg-type]
        lambda: Resource(type="t", id=None),  # type: ignore[arg-type]
    ],
)
def test_non_string_identity_fields_are_a_typed_error(make) -> None:
    with pytest.raises(PolicyConfigError):
        make()


@pytest.mark.parametrize(
    ("subject", "resource"),
    [
        ({"principal": 5}, "t:1"),
        ({"principal": ["u"]}, "t:1"),
        ("u", {"type": 1, "id": 2}),
        ("u", {"type": "t", "id": b"1"}),
    ],
)
def test_non_string_identity_fields_in_mappings_deny(subject, resource) -> None:
    allow_all = engine(rule("all"))
    decision = allow_all.decide(subject, "a", resource)
    assert not decision.allowed
    assert decision.reasons[0].startswith("request refused [policy.bad_request]")


def test_bool_and_int_context_values_never_share_a_cache_entry() -> None:
    cached = engine(rule("small", when=[{"attr": "context.n", "op": "lt", "value": 2}]))
    assert cached.decide("u", "a", "t:1", {"n": 1}).allowed
    assert not cached.decide("u", "a", "t:1", {"n": True}).allowed  # True < 2 in Python
    assert cached.decide("u", "a", "t:1", {"n": 1.0}).allowed


def test_a_million_context_keys_are_refused_fast() -> None:
    big = {str(i): i for i in range(1_000_000)}
    started = time.perf_counter()
    decision = engine(rule("all")).decide("u", "a", "t:1", big)
    assert time.perf_counter() - started < 1.0  # was about 6 s: sorted for the cache key first
    assert not decision.allowed
    assert decision.reasons[0].startswith("request refused [policy.oversize]")


def test_deep_context_is_refused_without_recursion_error() -> None:
    deep: dict[str, object] = {}
    cursor = deep
    for _ in range(50_000):
        cursor["a"] = {}
        cursor = cursor["a"]  # type: ignore[assignment]
    decision = engine(rule("all")).decide("u", "a", "t:1", {"x": deep})
    assert not decision.allowed


_scalar = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, float("nan"), float("inf")]),
    st.sampled_from(["", "1", "x", "True"]),
    st.none(),
)
_keys = st.one_of(st.sampled_from(["n", "1", "x"]), st.integers(0, 2), st.booleans())
_context = st.dictionaries(_keys, st.one_of(_scalar, st.lists(_scalar, max_size=3)), max_size=3)

TYPED_RULES = policy(
    rule("n-lt", when=[{"attr": "context.n", "op": "lt", "value": 2}]),
    rule("one-eq", when=[{"attr": "context.1", "op": "eq", "value": "x"}]),
    rule("x-in", "deny", when=[{"attr": "context.x", "op": "in", "value": [1, 2]}]),
    rule("x-has", when=[{"attr": "context.x", "op": "contains", "value": True}]),
)


@given(requests=st.lists(_context, min_size=1, max_size=12))
def test_cached_equals_uncached_over_type_confused_contexts(requests) -> None:
    cached = Engine(TYPED_RULES, cache_size=4)
    uncached = Engine(TYPED_RULES, cache_size=0)
    for context in requests:
        got = cached.decide("u", "a", "t:1", context)
        want = uncached.decide("u", "a", "t:1", context)
        assert (got.allowed, got.rule_id, got.reasons) == (want.allowed, want.rule_id, want.reasons)
