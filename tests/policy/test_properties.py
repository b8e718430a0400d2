"""Hypothesis properties: order independence, deny monotonicity, cache safety,
the glob matcher and path normalization."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from meshsec.clock import FrozenClock
from meshsec.policy import Engine, PathNormalizationError, PolicySet, normalize_path
from meshsec.policy._glob import compile_glob

PRINCIPALS = ["alice", "bob", "svc-*", "*", "a?ice"]
ACTIONS = ["read", "write", "re*", "*"]
RESOURCES = ["doc:1", "doc:*", "img:2", "*", "http:/admin/*", "http:/public"]
CONDITIONS = [
    {"attr": "context.n", "op": "lt", "value": 5},
    {"attr": "context.n", "op": "ge", "value": 2},
    {"attr": "subject.claims.role", "op": "eq", "value": "admin"},
    {"attr": "subject.claims.role", "op": "in", "value": ["admin", "ops"]},
    {"attr": "context.missing", "op": "ne", "value": "x"},
    {"attr": "context.time", "op": "between", "value": ["08:00", "18:00"], "tz": "Europe/Berlin"},
    {"attr": "context.time", "op": "between", "value": ["22:00", "02:00"], "tz": "UTC"},
    {"attr": "context.ip", "op": "in_cidr", "value": ["10.0.0.0/8", "fd00::/8"]},
]


@st.composite
def rule_docs(draw: Any, rule_id: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "effect": draw(st.sampled_from(["allow", "deny"])),
        "principals": draw(st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=2)),
        "actions": draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2)),
        "resources": draw(st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2)),
        "when": draw(st.lists(st.sampled_from(CONDITIONS), max_size=2)),
        "obligations": draw(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3))),
        "mode": draw(st.sampled_from(["enforce", "enforce", "enforce", "dry_run"])),
    }


@st.composite
def rule_lists(draw: Any, min_size: int = 0) -> list[dict[str, Any]]:
    count = draw(st.integers(min_size, 6))
    ids = draw(st.lists(st.sampled_from("abcdefghij"), min_size=count, max_size=count, unique=True))
    return [draw(rule_docs(i)) for i in ids]


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["n"] = draw(st.one_of(st.integers(0, 8), st.just("3"), st.floats(0, 8)))
    if draw(st.booleans()):
        context["ip"] = draw(
            st.sampled_from(["10.1.1.1", "192.168.1.1", "fd00::1", "::ffff:10.0.0.1", "x"])
        )
    if draw(st.booleans()):
        context["time"] = draw(st.integers(1_700_000_000, 1_700_200_000))
    claims = draw(st.sampled_from([{}, {"role": "admin"}, {"role": "ops"}, {"role": 1}]))
    return {
        "subject": {
            "principal": draw(st.sampled_from(["alice", "bob", "svc-x", "aXice", "*"])),
            "claims": claims,
        },
        "action": draw(st.sampled_from(["read", "write", "remove", "*"])),
        "resource": draw(
            st.sampled_from(
                [
                    "doc:1",
                    "doc:2",
                    "img:2",
                    "http:/admin/x",
                    "http:/public",
                    "http:/admin/../public",
                    "http:/%2f",
                ]
            )
        ),
        "context": context,
    }


def outcome(decision: Any) -> tuple[Any, ...]:
    return (
        decision.allowed,
        decision.effect,
        decision.rule_id,
        dict(decision.obligations),
        decision.reasons,
        decision.dry_run,
        decision.dry_run_rule_id,
        decision.policy_version,
    )


def make(rules: list[dict[str, Any]], **top: Any) -> PolicySet:
    return PolicySet.from_dict({"version": 1, "rules": rules, **top})


@given(
    rule_lists(), st.lists(requests(), min_size=1, max_size=5), st.randoms(use_true_random=False)
)
def test_rule_order_never_matters(rules, reqs, rnd) -> None:
    shuffled = list(rules)
    rnd.shuffle(shuffled)
    clock = FrozenClock(1_700_050_000)
    a = Engine(make(rules), clock=clock, cache_size=0)
    b = Engine(make(shuffled), clock=clock, cache_size=0)
    assert a.policy_version == b.policy_version
    for req in reqs:
        assert outcome(a.decide(**req)) == outcome(b.decide(**req))


@given(rule_lists(), rule_docs("zz-new-allow"), st.lists(requests(), min_size=1, max_size=5))
def test_adding_an_allow_never_lifts_a_deny(rules, extra, reqs) -> None:
    extra = {**extra, "effect": "allow"}
    clock = FrozenClock(1_700_050_000)
    before = Engine(make(rules), clock=clock, cache_size=0)
    after = Engine(make([*rules, extra]), clock=clock, cache_size=0)
    for req in reqs:
        old = before.decide(**req)
        if not old.allowed and old.rule_id is not None:
            new = after.decide(**req)
            assert not new.allowed
            assert new.rule_id == old.rule_id


OPS = st.one_of(
    st.tuples(st.just("decide"), requests()),
    st.tuples(st.just("tick"), st.integers(-7200, 7200)),
    st.tuples(st.just("swap"), rule_lists()),
)


@given(rule_lists(), st.lists(OPS, min_size=1, max_size=25), st.sampled_from([1, 3, 100]))
def test_cached_equals_uncached(rules, ops, size) -> None:
    clock = FrozenClock(1_700_050_000)
    cached = Engine(make(rules), clock=clock, cache_size=size)
    plain = Engine(make(rules), clock=clock, cache_size=0)
    for kind, arg in ops:
        if kind == "decide":
            # Decide twice so that the second answer may come from the cache.
            for _ in range(2):
                assert outcome(cached.decide(**arg)) == outcome(plain.decide(**arg))
        elif kind == "tick":
            clock.advance(arg)
        else:
            cached.update(make(arg))
            plain.update(make(arg))


@given(rule_lists(), requests())
def test_whole_set_dry_run_never_denies(rules, req) -> None:
    engine = Engine(make(rules, mode="dry_run"), clock=FrozenClock(1_700_050_000))
    decision = engine.decide(**req)
    if "policy.bad_path" not in decision.reasons[0]:
        assert decision.allowed


def _reference_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL
    )


GLOB_ALPHABET = st.sampled_from("ab*?:")


@given(st.text(GLOB_ALPHABET, max_size=8), st.text(st.sampled_from("ab:*?"), max_size=10))
def test_glob_matcher_agrees_with_regex_reference(pattern, value) -> None:
    assert bool(compile_glob(pattern)(value)) == bool(_reference_glob(pattern).fullmatch(value))


PATH_TEXT = st.lists(
    st.sampled_from(["/", ".", "..", "a", "B", "%2e", "%41", "%2f", "\u00e9", "%"]), max_size=12
).map("".join)


@given(PATH_TEXT)
def test_normalized_paths_are_canonical_and_idempotent(raw) -> None:
    try:
        path = normalize_path("/" + raw)
    except PathNormalizationError:
        return
    assert path.startswith("/")
    assert "//" not in path
    segments = path.split("/")
    assert "." not in segments
    assert ".." not in segments
    assert normalize_path(path) == path


@given(rule_lists())
def test_document_round_trips(rules) -> None:
    import json

    import yaml

    original = make(rules)
    assert PolicySet.from_dict(original.to_dict()) == original
    assert PolicySet.from_json(json.dumps({"version": 1, "rules": rules})) == original

    class NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True  # meshsec refuses YAML aliases (billion-laughs expansion)

    text = yaml.dump({"version": 1, "rules": rules}, Dumper=NoAliases)
    assert PolicySet.from_yaml(text) == original
    assert PolicySet.from_json(original.canonical).version_id == original.version_id
