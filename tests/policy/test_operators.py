"""Operator edge cases: every outcome (true, false, missing, mismatch) per operator."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import pytest

from meshsec.policy import PolicyConfigError, Resource, Subject

from .helpers import engine, rule

CTX: dict[str, Any] = {
    "s": "abc",
    "n": 5,
    "f": 2.5,
    "b": True,
    "z": None,
    "l": ["a", "b", 3],
    "m": {"deep": {"x": "y"}},
    "ip": ipaddress.ip_address("10.0.0.1"),
    "ip6": "fe80::1",
    "bad_ip": "10.0.0.256",
    "big": 10**30,
    "same": "abc",
    "names": ["abc", "def"],
    "t": datetime(2024, 1, 15, 12, 0, tzinfo=UTC),
}


def outcome(condition: dict[str, Any]) -> str:
    eng = engine(rule("r", when=[condition]), cache_size=0)
    decision = eng.decide(
        Subject(principal="p", claims={"c": "abc"}), "act", Resource(type="t", id="1"), CTX
    )
    if decision.allowed:
        return "true"
    text = " ".join(decision.reasons)
    if "missing attribute" in text:
        return "missing"
    if "type mismatch" in text:
        return "mismatch"
    return "false"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"attr": "context.z", "op": "eq", "value": None}, "true"),
        ({"attr": "context.s", "op": "eq", "value": None}, "mismatch"),
        ({"attr": "context.l", "op": "eq", "value": "a"}, "mismatch"),
        ({"attr": "context.s", "op": "ne", "value": 1}, "mismatch"),
        ({"attr": "context.s", "op": "lt", "value": "abd"}, "true"),
        ({"attr": "context.s", "op": "ge", "value": "abd"}, "false"),
        ({"attr": "context.f", "op": "gt", "value": 2}, "true"),
        ({"attr": "context.b", "op": "gt", "value": 0}, "mismatch"),
        ({"attr": "context.s", "op": "in", "value": ["abc"]}, "true"),
        ({"attr": "context.l", "op": "in", "value": ["abc"]}, "mismatch"),
        ({"attr": "context.s", "op": "in", "ref": "context.names"}, "true"),
        ({"attr": "context.s", "op": "in", "ref": "context.s"}, "mismatch"),
        ({"attr": "context.s", "op": "not_in", "ref": "context.names"}, "false"),
        ({"attr": "context.s", "op": "prefix", "ref": "context.same"}, "true"),
        ({"attr": "context.s", "op": "eq", "ref": "subject.claims.c"}, "true"),
        ({"attr": "context.s", "op": "eq", "ref": "context.nope"}, "missing"),
        ({"attr": "context.l", "op": "contains", "value": 3}, "true"),
        ({"attr": "context.l", "op": "contains", "value": True}, "false"),
        ({"attr": "context.m", "op": "contains", "value": "deep"}, "mismatch"),
        ({"attr": "context.n", "op": "contains", "value": "5"}, "mismatch"),
        ({"attr": "context.nope", "op": "contains", "value": "x"}, "missing"),
        ({"attr": "context.s", "op": "contains", "ref": "context.same"}, "true"),
        ({"attr": "context.m.deep.x", "op": "eq", "value": "y"}, "true"),
        ({"attr": "context.s.deeper", "op": "exists"}, "false"),
        ({"attr": "context.m.deep.nope", "op": "exists", "value": False}, "true"),
        ({"attr": "context.s", "op": "glob", "value": "a*"}, "true"),
        ({"attr": "context.n", "op": "glob", "value": "*"}, "mismatch"),
        ({"attr": "context.nope", "op": "glob", "value": "*"}, "missing"),
        ({"attr": "context.ip", "op": "in_cidr", "value": "10.0.0.0/8"}, "true"),
        ({"attr": "context.ip6", "op": "in_cidr", "value": ["fe80::/10"]}, "true"),
        ({"attr": "context.bad_ip", "op": "in_cidr", "value": ["0.0.0.0/0"]}, "mismatch"),
        ({"attr": "context.n", "op": "in_cidr", "value": ["0.0.0.0/0"]}, "mismatch"),
        ({"attr": "context.nope", "op": "in_cidr", "value": ["0.0.0.0/0"]}, "missing"),
        ({"attr": "context.t", "op": "between", "value": ["11:00", "13:00"], "tz": "UTC"}, "true"),
        (
            {"attr": "context.big", "op": "between", "value": ["11:00", "13:00"], "tz": "UTC"},
            "mismatch",
        ),
        (
            {"attr": "context.s", "op": "between", "value": ["11:00", "13:00"], "tz": "UTC"},
            "mismatch",
        ),
        (
            {"attr": "context.l", "op": "between", "value": ["11:00", "13:00"], "tz": "UTC"},
            "mismatch",
        ),
        (
            {"attr": "context.nope", "op": "between", "value": ["11:00", "13:00"], "tz": "UTC"},
            "missing",
        ),
        ({"attr": "subject.peer_id", "op": "exists"}, "false"),
        ({"attr": "subject.scopes", "op": "contains", "value": "x"}, "false"),
        ({"attr": "resource.id", "op": "eq", "value": "1"}, "true"),
        ({"attr": "resource.nope", "op": "exists", "value": False}, "true"),
    ],
)
def test_operator_outcomes(condition: dict[str, Any], expected: str) -> None:
    assert outcome(condition) == expected


@pytest.mark.parametrize(
    "condition",
    [
        {"attr": "context.x", "op": "in", "value": []},
        {"attr": "context.x", "op": "in", "value": [[1]]},
        {"attr": "context.x", "op": "lt", "value": True},
        {"attr": "context.x", "op": "prefix", "value": 1},
        {"attr": "context.x", "op": "eq", "value": [1]},
        {"attr": "context.x", "op": "glob", "value": 1},
        {"attr": "context.x", "op": "glob", "value": "*a*a*a*a*a*a*a*a*a"},
        {"attr": "context.x", "op": "exists", "value": "yes"},
        {"attr": "context.x", "op": "in_cidr", "value": []},
        {"attr": "context.x", "op": "in_cidr", "value": ["not-a-cidr"]},
        {"attr": "context.x", "op": "between", "value": ["08:00"], "tz": "UTC"},
        {"attr": "context.x", "op": "between", "value": ["08:00", "08:00"], "tz": "UTC"},
        {"attr": "context.x", "op": "between", "value": ["24:00", "08:00"], "tz": "UTC"},
        {"attr": "context.x", "op": "between", "value": ["08:00", "09:00"], "tz": 5},
        {"attr": "context.x", "op": "in_cidr", "ref": "context.y"},
        {"attr": "context.x", "op": "eq", "ref": 5},
        {"attr": "context..x", "op": "exists"},
        {"attr": "subject", "op": "exists"},
        {"attr": "nothing.x", "op": "exists"},
        {"attr": 5, "op": "exists"},
        {"attr": "context.x", "op": "exists", "extra": 1},
        "not a mapping",
    ],
)
def test_bad_conditions_rejected(condition: Any) -> None:
    with pytest.raises(PolicyConfigError):
        engine(rule("r", when=[condition]))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"])
def test_non_finite_numbers_are_a_mismatch(value: float, op: str) -> None:
    operand: Any = [1000] if op in ("in", "not_in") else 1000
    eng = engine(rule("r", when=[{"attr": "context.amount", "op": op, "value": operand}]))
    decision = eng.decide("p", "act", "t:1", {"amount": value})
    assert not decision.allowed
    assert any("type mismatch" in r for r in decision.reasons)
