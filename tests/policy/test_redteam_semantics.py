"""Red team: operator edge types, IPv4-mapped networks, DST, dry run, immutability."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given

from meshsec.clock import FrozenClock
from meshsec.policy import Engine

from .helpers import engine, rule
from .test_properties import make, requests, rule_lists

MISMATCH = "type mismatch"
MISSING = "missing attribute"
BERLIN_DAY = ["08:00", "18:00"]
BERLIN_NIGHT_HOUR = ["02:00", "03:00"]


def _when(cond: dict[str, Any], context: dict[str, Any]) -> tuple[bool, tuple[str, ...]]:
    decision = engine(rule("r", when=[cond])).decide("u", "a", "t:1", context)
    return decision.allowed, decision.reasons[1:]


def _c(attr: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    cond = {"attr": attr, "op": op, **extra}
    if value is not None:
        cond["value"] = value
    return cond


def _between(window: list[str]) -> dict[str, Any]:
    return _c("context.time", "between", window, tz="Europe/Berlin")


EDGE_TABLE = [
    # bool is not a number, although True < 2 and True == 1 in Python
    (_c("context.x", "lt", 2), {"x": True}, False, MISMATCH),
    (_c("context.x", "eq", True), {"x": 1}, False, MISMATCH),
    (_c("context.x", "in", [1, 2]), {"x": True}, False, MISMATCH),
    (_c("context.x", "contains", 1), {"x": [True]}, False, None),
    (_c("context.x", "contains", True), {"x": [1]}, False, None),
    # NaN and infinities never satisfy (or dodge) a numeric bound
    (_c("context.x", "lt", 2), {"x": float("nan")}, False, MISMATCH),
    (_c("context.x", "ge", 2), {"x": float("nan")}, False, MISMATCH),
    (_c("context.x", "gt", 2), {"x": float("inf")}, False, MISMATCH),
    (_c("context.x", "lt", 2), {"x": float("-inf")}, False, MISMATCH),
    # strings and numbers never compare
    (_c("context.x", "lt", 2), {"x": "1"}, False, MISMATCH),
    (_c("context.x", "eq", "1"), {"x": 1}, False, MISMATCH),
    (_c("context.x", "lt", "b"), {"x": "a"}, True, None),
    (_c("context.x", "eq", 1), {"x": 1.0}, True, None),
    (_c("context.x", "lt", 10**30), {"x": 10**29}, True, None),
    # lists for in, strings and lists for contains
    (_c("context.x", "in", ["a"]), {"x": ["a"]}, False, MISMATCH),
    (_c("context.x", "not_in", ["a"]), {"x": 5}, False, MISMATCH),
    (_c("context.x", "contains", "ab"), {"x": "xaby"}, True, None),
    (_c("context.x", "contains", "ab"), {"x": ["xaby"]}, False, None),
    (_c("context.x", "contains", "ab"), {"x": {"ab": 1}}, False, MISMATCH),
    # exists: null is present, absence is what `value: false` asks for
    (_c("context.x", "exists"), {"x": None}, True, None),
    (_c("context.x", "exists", False), {}, True, None),
    (_c("subject.peer_id", "exists"), {}, False, None),
    # ne on a missing attribute is false, not "not equal"
    (_c("context.x", "ne", "a"), {}, False, MISSING),
    (_c("context.x.y", "eq", 1), {"x": [1]}, False, MISSING),
    (_c("context.x.y", "eq", 1), {"x": "y"}, False, MISSING),
    # ref to a missing attribute, and a ref that differs in type
    (_c("context.x", "eq", ref="context.y"), {"x": 1}, False, MISSING),
    (_c("context.x", "eq", ref="context.y"), {"x": 1, "y": True}, False, MISMATCH),
    (_c("context.x", "eq", ref="context.x"), {"x": 1}, True, None),
    # glob metacharacters in the request value are literal text
    (_c("context.x", "glob", "a?c"), {"x": "a[c"}, True, None),
    (_c("context.x", "glob", "a[b]c"), {"x": "abc"}, False, None),
    (_c("context.x", "glob", "a\\*"), {"x": "a\\zz"}, True, None),
    (_c("context.x", "glob", "a\\*"), {"x": "a*"}, False, None),
    # addresses
    (_c("context.x", "in_cidr", ["10.0.0.0/8"]), {"x": "::ffff:10.1.2.3"}, True, None),
    (_c("context.x", "in_cidr", ["::ffff:10.0.0.0/104"]), {"x": "10.1.2.3"}, True, None),
    (_c("context.x", "in_cidr", ["::ffff:10.0.0.0/104"]), {"x": "::ffff:10.1.2.3"}, True, None),
    (_c("context.x", "in_cidr", ["::ffff:10.0.0.0/104"]), {"x": "11.0.0.1"}, False, None),
    (_c("context.x", "in_cidr", ["10.0.0.0/8"]), {"x": "10.0.0.1/32"}, False, MISMATCH),
    (_c("context.x", "in_cidr", ["10.0.0.0/8"]), {"x": 167772161}, False, MISMATCH),
    (_c("context.x", "in_cidr", ["10.0.0.0/8"]), {"x": "010.0.0.1"}, False, MISMATCH),
    (_c("context.x", "in_cidr", ["fe80::/10"]), {"x": "fe80::1%eth0"}, True, None),
    # time of day: naive times are a mismatch, aware ones compare in the zone
    (_between(BERLIN_DAY), {"time": datetime(2026, 1, 1, 10)}, False, MISMATCH),
    (_between(BERLIN_DAY), {"time": "2026-01-01T10:00:00"}, False, MISMATCH),
    (_between(BERLIN_DAY), {"time": "2026-01-01T10:00:00Z"}, True, None),
    (_between(BERLIN_DAY), {"time": datetime(2026, 1, 1, 7, 30, tzinfo=UTC)}, True, None),
    (_between(BERLIN_DAY), {"time": True}, False, MISMATCH),
    (_between(BERLIN_DAY), {"time": float("nan")}, False, MISMATCH),
    (_between(BERLIN_DAY), {"time": 10**30}, False, MISMATCH),
    # spring forward 2026-03-29: 02:00-03:00 Berlin does not exist
    (_between(BERLIN_NIGHT_HOUR), {"time": "2026-03-29T00:59:59+00:00"}, False, None),
    (_between(BERLIN_NIGHT_HOUR), {"time": "2026-03-29T01:00:00+00:00"}, False, None),
    # fall back 2026-10-25: 02:00-03:00 Berlin happens twice
    (_between(BERLIN_NIGHT_HOUR), {"time": "2026-10-25T00:30:00+00:00"}, True, None),
    (_between(BERLIN_NIGHT_HOUR), {"time": "2026-10-25T01:30:00+00:00"}, True, None),
    (_between(BERLIN_NIGHT_HOUR), {"time": "2026-10-25T02:00:00+00:00"}, False, None),
]


@pytest.mark.parametrize(("cond", "context", "allowed", "note"), EDGE_TABLE)
def test_operator_edge_types(cond, context, allowed: bool, note: str | None) -> None:
    got, reasons = _when(cond, context)
    assert got is allowed
    if note is None:
        assert reasons == ()
    else:
        assert reasons == (f"rule r: {cond['attr']} {note}",)


def test_mapped_network_deny_applies_to_every_spelling() -> None:
    deny = rule(
        "deny-lan",
        "deny",
        when=[{"attr": "context.ip", "op": "in_cidr", "value": ["::ffff:10.0.0.0/104"]}],
    )
    eng = engine(deny, rule("allow"))
    for ip in ("10.9.8.7", "::ffff:10.9.8.7", "::ffff:a09:807"):
        assert eng.decide("u", "a", "t:1", {"ip": ip}).rule_id == "deny-lan", ip


def test_time_window_follows_the_clock_across_midnight_without_stale_cache() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, 22, 59, tzinfo=UTC).timestamp())  # 23:59 Berlin
    night = rule(
        "night", when=[_c("context.time", "between", ["22:00", "00:00"], tz="Europe/Berlin")]
    )
    eng = Engine(make([night]), clock=clock)
    assert eng.decide("u", "a", "t:1").allowed
    clock.advance(60)  # 00:00 Berlin: outside [22:00, 00:00)
    assert not eng.decide("u", "a", "t:1").allowed
    clock.advance(22 * 3600)
    assert eng.decide("u", "a", "t:1").allowed


@given(rule_lists(min_size=1), requests())
def test_dry_run_rules_never_change_the_enforced_outcome(rules, req) -> None:
    live = [r for r in rules if r["mode"] == "enforce"]
    clock = FrozenClock(1_700_050_000)
    with_dry = Engine(make(rules), clock=clock).decide(**req)
    without = Engine(make(live), clock=clock).decide(**req)
    assert (with_dry.allowed, with_dry.rule_id, dict(with_dry.obligations)) == (
        without.allowed,
        without.rule_id,
        dict(without.obligations),
    )


def test_deciding_rule_and_obligations_do_not_depend_on_order() -> None:
    rules = [
        rule("b-allow", obligations={"k": "b", "only_b": 1}),
        rule("a-allow", obligations={"k": "a"}),
        rule("c-allow", obligations={"k": "c", "only_c": 2}),
    ]
    seen = set()
    for order in (rules, rules[::-1], rules[1:] + rules[:1]):
        decision = engine(*order).decide("u", "a", "t:1")
        seen.add((decision.rule_id, tuple(sorted(decision.obligations.items()))))
    assert seen == {("a-allow", (("k", "a"), ("only_b", 1), ("only_c", 2)))}


def test_cached_decision_cannot_be_changed_by_its_holder() -> None:
    eng = engine(rule("r", obligations={"mask": ["card"], "nested": {"level": 1}}))
    first = eng.decide("u", "a", "t:1")
    with pytest.raises(AttributeError):
        first.allowed = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.obligations["mask"] = []  # type: ignore[index]
    with pytest.raises(TypeError):
        first.obligations["nested"]["level"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        first.obligations["mask"].append("ssn")  # type: ignore[union-attr]
    again = eng.decide("u", "a", "t:1")
    assert dict(again.obligations["nested"]) == {"level": 1}
    assert tuple(again.obligations["mask"]) == ("card",)
