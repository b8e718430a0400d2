"""The semantics table: default deny, deny overrides, globs, every operator, refs,
missing attributes, type mismatches, time windows (midnight, DST) and CIDR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from meshsec.policy import Resource, Subject

from .helpers import engine, rule

ORDERS = "spiffe://example.org/ns/prod/sa/orders"


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def when(*conditions: dict[str, Any], effect: str = "allow") -> dict[str, Any]:
    return rule("r", effect, when=list(conditions))


def cond(attr: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    doc = {"attr": attr, "op": op, **extra}
    if value is not None:
        doc["value"] = value
    return doc


BERLIN_DAY = cond("context.time", "between", ["08:00", "18:00"], tz="Europe/Berlin")
BERLIN_NIGHT = cond("context.time", "between", ["22:00", "06:00"], tz="Europe/Berlin")
BERLIN_2AM = cond("context.time", "between", ["02:00", "03:00"], tz="Europe/Berlin")

SUBJECT = Subject(
    principal=ORDERS,
    claims={"tenant": "t1", "level": 3, "roles": ["payer", "viewer"], "admin": True},
    scopes={"payments.write"},
)
RESOURCE = Resource(type="payment", id="p-1", attributes={"tenant": "t1", "owner": ORDERS})

# (name, rules, request overrides, expected allowed, expected deciding rule)
CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], bool, str | None]] = [
    # -- combining -------------------------------------------------------------
    ("default deny with no rules", [], {}, False, None),
    ("default deny when nothing matches", [rule("a", actions=["other"])], {}, False, None),
    ("single allow", [rule("a")], {}, True, "a"),
    ("deny overrides allow", [rule("a"), rule("d", "deny")], {}, False, "d"),
    ("deny overrides allow (ids reversed)", [rule("z"), rule("b", "deny")], {}, False, "b"),
    ("smallest matching allow id decides", [rule("b"), rule("a")], {}, True, "a"),
    ("smallest matching deny id decides", [rule("y", "deny"), rule("x", "deny")], {}, False, "x"),
    (
        "non-matching deny does not block",
        [rule("a"), rule("d", "deny", actions=["x"])],
        {},
        True,
        "a",
    ),
    # -- globs -------------------------------------------------------------------
    ("principal exact", [rule("a", principals=[ORDERS])], {}, True, "a"),
    ("principal glob", [rule("a", principals=["spiffe://example.org/ns/prod/*"])], {}, True, "a"),
    (
        "principal glob other ns",
        [rule("a", principals=["spiffe://example.org/ns/dev/*"])],
        {},
        False,
        None,
    ),
    ("action glob", [rule("a", actions=["payments:*"])], {}, True, "a"),
    ("action ? glob", [rule("a", actions=["payments:charg?"])], {}, True, "a"),
    ("action literal mismatch", [rule("a", actions=["payments:refund"])], {}, False, None),
    ("resource glob", [rule("a", resources=["payment:*"])], {}, True, "a"),
    ("resource type mismatch", [rule("a", resources=["invoice:*"])], {}, False, None),
    ("resource exact", [rule("a", resources=["payment:p-1"])], {}, True, "a"),
    # -- operators ---------------------------------------------------------------
    ("eq string", [when(cond("resource.tenant", "eq", "t1"))], {}, True, "r"),
    ("eq number false", [when(cond("subject.claims.level", "eq", 4))], {}, False, None),
    ("ne", [when(cond("resource.tenant", "ne", "t2"))], {}, True, "r"),
    ("in", [when(cond("resource.tenant", "in", ["t0", "t1"]))], {}, True, "r"),
    ("not_in", [when(cond("resource.tenant", "not_in", ["t0", "t1"]))], {}, False, None),
    ("lt", [when(cond("context.amount", "lt", 1000))], {}, True, "r"),
    ("lt boundary", [when(cond("context.amount", "lt", 999))], {}, False, None),
    ("le boundary", [when(cond("context.amount", "le", 999))], {}, True, "r"),
    ("gt", [when(cond("context.amount", "gt", 998.5))], {}, True, "r"),
    ("ge", [when(cond("context.amount", "ge", 1000))], {}, False, None),
    ("prefix", [when(cond("subject.principal", "prefix", "spiffe://example.org/"))], {}, True, "r"),
    ("glob operator", [when(cond("context.path", "glob", "/v1/*/items"))], {}, True, "r"),
    ("contains list", [when(cond("subject.claims.roles", "contains", "payer"))], {}, True, "r"),
    ("contains string", [when(cond("context.path", "contains", "orders"))], {}, True, "r"),
    (
        "contains scopes",
        [when(cond("subject.scopes", "contains", "payments.write"))],
        {},
        True,
        "r",
    ),
    ("exists", [when(cond("subject.claims.tenant", "exists"))], {}, True, "r"),
    ("exists false", [when(cond("subject.claims.nope", "exists", False))], {}, True, "r"),
    ("bool eq", [when(cond("subject.claims.admin", "eq", True))], {}, True, "r"),
    ("action attr", [when(cond("action", "eq", "payments:charge"))], {}, True, "r"),
    ("resource.type attr", [when(cond("resource.type", "eq", "payment"))], {}, True, "r"),
    (
        "resource.attributes path",
        [when(cond("resource.attributes.tenant", "eq", "t1"))],
        {},
        True,
        "r",
    ),
    # -- refs ----------------------------------------------------------------------
    ("ref eq", [when(cond("resource.tenant", "eq", ref="subject.claims.tenant"))], {}, True, "r"),
    (
        "ref eq other tenant",
        [when(cond("resource.tenant", "eq", ref="subject.claims.tenant"))],
        {"resource": Resource(type="payment", id="p-1", attributes={"tenant": "t2"})},
        False,
        None,
    ),
    (
        "ref to principal",
        [when(cond("resource.owner", "eq", ref="subject.principal"))],
        {},
        True,
        "r",
    ),
    (
        "ref missing",
        [when(cond("resource.tenant", "eq", ref="subject.claims.nope"))],
        {},
        False,
        None,
    ),
    # -- missing attributes and type mismatches are false ----------------------------
    ("missing attr allow fails", [when(cond("context.nope", "eq", "x"))], {}, False, None),
    ("missing attr ne is still false", [when(cond("context.nope", "ne", "x"))], {}, False, None),
    (
        "missing attr not_in is still false",
        [when(cond("context.nope", "not_in", ["x"]))],
        {},
        False,
        None,
    ),
    ("type mismatch str vs number", [when(cond("context.amount", "lt", "1000"))], {}, False, None),
    (
        "type mismatch bool vs number",
        [when(cond("subject.claims.admin", "eq", 1))],
        {},
        False,
        None,
    ),
    (
        "type mismatch number in strings",
        [when(cond("subject.claims.level", "in", ["3"]))],
        {},
        False,
        None,
    ),
    (
        "type mismatch prefix on number",
        [when(cond("subject.claims.level", "prefix", "3"))],
        {},
        False,
        None,
    ),
    (
        "deny with missing attr does not match",
        [rule("a"), when(cond("context.nope", "eq", "x"), effect="deny")],
        {},
        True,
        "a",
    ),
    # -- CIDR ----------------------------------------------------------------------
    ("cidr v4 inside", [when(cond("context.source_ip", "in_cidr", ["10.0.0.0/8"]))], {}, True, "r"),
    (
        "cidr v4 outside",
        [when(cond("context.source_ip", "in_cidr", ["192.168.0.0/16"]))],
        {},
        False,
        None,
    ),
    (
        "cidr v6 inside",
        [when(cond("context.source_ip6", "in_cidr", ["2001:db8::/32"]))],
        {},
        True,
        "r",
    ),
    (
        "cidr v6 outside",
        [when(cond("context.source_ip6", "in_cidr", ["2001:db9::/32"]))],
        {},
        False,
        None,
    ),
    (
        "cidr v4 address vs v6 net",
        [when(cond("context.source_ip", "in_cidr", ["::/0"]))],
        {},
        False,
        None,
    ),
    (
        "cidr v4-mapped v6 counts as v4",
        [rule("a"), when(cond("context.mapped", "in_cidr", ["10.0.0.0/8"]), effect="deny")],
        {},
        False,
        "r",
    ),
    (
        "cidr garbage is a mismatch",
        [when(cond("context.path", "in_cidr", ["0.0.0.0/0"]))],
        {},
        False,
        None,
    ),
    # -- time windows ----------------------------------------------------------------
    ("day window, winter 08:30 CET", [when(BERLIN_DAY)], {"t": utc(2024, 1, 15, 7, 30)}, True, "r"),
    (
        "day window, winter 18:30 CET",
        [when(BERLIN_DAY)],
        {"t": utc(2024, 1, 15, 17, 30)},
        False,
        None,
    ),
    (
        "day window, summer 17:30 UTC is 19:30 CEST",
        [when(BERLIN_DAY)],
        {"t": utc(2024, 7, 15, 16, 30)},
        False,
        None,
    ),
    (
        "day window, winter 16:30 UTC is 17:30 CET",
        [when(BERLIN_DAY)],
        {"t": utc(2024, 1, 15, 16, 30)},
        True,
        "r",
    ),
    ("day window, start inclusive", [when(BERLIN_DAY)], {"t": utc(2024, 1, 15, 7, 0)}, True, "r"),
    ("day window, end exclusive", [when(BERLIN_DAY)], {"t": utc(2024, 1, 15, 17, 0)}, False, None),
    (
        "night window before midnight",
        [when(BERLIN_NIGHT)],
        {"t": utc(2024, 1, 15, 22, 0)},
        True,
        "r",
    ),
    (
        "night window after midnight",
        [when(BERLIN_NIGHT)],
        {"t": utc(2024, 1, 16, 4, 59)},
        True,
        "r",
    ),
    (
        "night window end exclusive",
        [when(BERLIN_NIGHT)],
        {"t": utc(2024, 1, 16, 5, 0)},
        False,
        None,
    ),
    ("night window at noon", [when(BERLIN_NIGHT)], {"t": utc(2024, 1, 16, 11, 0)}, False, None),
    (
        "spring forward: 02:xx never happens",
        [when(BERLIN_2AM)],
        {"t": utc(2024, 3, 31, 1, 0)},
        False,
        None,
    ),
    ("spring forward: 01:59 CET", [when(BERLIN_2AM)], {"t": utc(2024, 3, 31, 0, 59)}, False, None),
    ("fall back: first 02:30 CEST", [when(BERLIN_2AM)], {"t": utc(2024, 10, 27, 0, 30)}, True, "r"),
    ("fall back: second 02:30 CET", [when(BERLIN_2AM)], {"t": utc(2024, 10, 27, 1, 30)}, True, "r"),
    (
        "time as aware datetime",
        [when(BERLIN_DAY)],
        {"t": datetime(2024, 1, 15, 9, 0, tzinfo=timezone(timedelta(hours=1)))},
        True,
        "r",
    ),
    ("time as ISO string", [when(BERLIN_DAY)], {"t": "2024-01-15T09:00:00+01:00"}, True, "r"),
    (
        "naive datetime is a mismatch",
        [when(BERLIN_DAY)],
        {"t": datetime(2024, 1, 15, 9, 0)},
        False,
        None,
    ),
    ("time falls back to the engine clock", [when(BERLIN_DAY)], {"t": None}, True, "r"),
]


def _decide(rules: list[dict[str, Any]], overrides: dict[str, Any]) -> Any:
    context = {
        "amount": 999,
        "path": "/v1/orders/items",
        "source_ip": "10.1.2.3",
        "source_ip6": "2001:db8::1",
        "mapped": "::ffff:10.9.9.9",
    }
    if overrides.get("t") is not None:
        context["time"] = overrides["t"]
    # The engine clock says 2024-01-15 10:00 UTC (11:00 CET) for the fallback case.
    eng = engine(*rules, clock=lambda: utc(2024, 1, 15, 10, 0))
    return eng.decide(
        overrides.get("subject", SUBJECT),
        overrides.get("action", "payments:charge"),
        overrides.get("resource", RESOURCE),
        context,
    )


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("rules", "overrides", "allowed", "rule_id"),
    [pytest.param(r, o, a, i, id=name) for name, r, o, a, i in CASES],
)
def test_semantics(
    rules: list[dict[str, Any]], overrides: dict[str, Any], allowed: bool, rule_id: str | None
) -> None:
    decision = _decide(rules, overrides)
    assert decision.allowed is allowed, decision.reasons
    assert decision.rule_id == rule_id
    assert decision.effect == ("allow" if allowed else "deny")


def test_missing_attribute_is_recorded_in_reasons() -> None:
    decision = _decide([when(cond("context.nope", "eq", "x"))], {})
    assert any("context.nope missing attribute" in r for r in decision.reasons)


def test_type_mismatch_is_recorded_in_reasons() -> None:
    decision = _decide([when(cond("context.amount", "lt", "1000"))], {})
    assert any("context.amount type mismatch" in r for r in decision.reasons)


def test_obligations_of_matching_allows_merge_smallest_id_wins() -> None:
    decision = _decide(
        [
            rule("b", obligations={"mask": "full", "log": True}),
            rule("a", obligations={"mask": "partial"}),
        ],
        {},
    )
    assert decision.rule_id == "a"
    assert dict(decision.obligations) == {"mask": "partial", "log": True}


def test_denial_carries_no_obligations() -> None:
    decision = _decide([rule("a", obligations={"x": 1}), rule("d", "deny")], {})
    assert not decision.allowed
    assert dict(decision.obligations) == {}


def test_string_requests_are_accepted() -> None:
    eng = engine(rule("a", principals=["alice"], resources=["doc:1"]))
    assert eng.decide("alice", "read", "doc:1").allowed
    assert not eng.decide("bob", "read", "doc:1").allowed
    assert eng.decide({"principal": "alice"}, "read", {"type": "doc", "id": "1"}).allowed


def test_anonymous_subject_matches_only_star() -> None:
    eng = engine(rule("a", principals=["spiffe://*"]), rule("b", principals=["*"], actions=["x"]))
    assert not eng.decide(None, "read", "doc:1").allowed
    assert eng.decide(None, "x", "doc:1").allowed


def test_cached_obligations_cannot_be_mutated_by_a_caller() -> None:
    eng = engine(rule("a", obligations={"mask": ["card"]}))
    first = eng.decide("u", "r", "d:1")
    with pytest.raises(TypeError):
        first.obligations["mask"] = "none"  # type: ignore[index]
    assert eng.decide("u", "r", "d:1").obligations["mask"] == ("card",)
