"""CedarAuthorizer: parity with Engine on equivalent policies, fail-closed mapping."""

from __future__ import annotations

import pytest

pytest.importorskip("cedarpy", reason="cedarpy (extra meshsec[cedar]) is not installed")

from meshsec import audit
from meshsec.policy import Authorizer, CedarAuthorizer, PolicyConfigError, Resource, Subject

from .helpers import engine, rule

CEDAR = """
permit(principal in Role::"admin", action, resource is doc);
permit(principal in Role::"reader", action == Action::"read", resource is doc);
forbid(principal, action == Action::"delete", resource == doc::"locked");
permit(principal == User::"alice", action == Action::"write", resource is doc)
  when { context.amount < 100 };
permit(principal, action == Action::"view", resource)
  when { resource has tenant && principal has tenant && resource.tenant == principal.tenant };
"""

ENGINE = engine(
    rule(
        "admin",
        resources=["doc:*"],
        when=[{"attr": "subject.claims.roles", "op": "contains", "value": "admin"}],
    ),
    rule(
        "reader",
        actions=["read"],
        resources=["doc:*"],
        when=[{"attr": "subject.claims.roles", "op": "contains", "value": "reader"}],
    ),
    rule("locked", "deny", actions=["delete"], resources=["doc:locked"]),
    rule(
        "alice-write",
        principals=["alice"],
        actions=["write"],
        resources=["doc:*"],
        when=[{"attr": "context.amount", "op": "lt", "value": 100}],
    ),
    rule(
        "tenant-view",
        actions=["view"],
        when=[{"attr": "resource.tenant", "op": "eq", "ref": "subject.claims.tenant"}],
    ),
    cache_size=0,
)


def subject(name: str, *roles: str, **claims) -> Subject:
    return Subject(principal=name, claims={"roles": list(roles), **claims})


ADMIN, READER, ALICE = subject("root", "admin"), subject("rita", "reader"), subject("alice")
NOBODY = subject("eve")
T1 = subject("tom", tenant="t1")

REQUESTS = [
    (ADMIN, "read", "doc:1", None, True),
    (ADMIN, "delete", "doc:1", None, True),
    (ADMIN, "delete", "doc:locked", None, False),
    (ADMIN, "read", "img:1", None, False),
    (READER, "read", "doc:1", None, True),
    (READER, "write", "doc:1", None, False),
    (READER, "delete", "doc:locked", None, False),
    (ALICE, "write", "doc:1", {"amount": 50}, True),
    (ALICE, "write", "doc:1", {"amount": 500}, False),
    (ALICE, "write", "doc:1", {}, False),  # missing attribute
    (ALICE, "write", "doc:1", {"amount": "50"}, False),  # type mismatch
    (ALICE, "read", "doc:1", None, False),
    (NOBODY, "read", "doc:1", None, False),
    (NOBODY, "delete", "doc:locked", None, False),
    (T1, "view", Resource(type="doc", id="9", attributes={"tenant": "t1"}), None, True),
    (T1, "view", Resource(type="doc", id="9", attributes={"tenant": "t2"}), None, False),
    (T1, "view", Resource(type="doc", id="9"), None, False),
    (NOBODY, "view", Resource(type="doc", id="9", attributes={"tenant": "t1"}), None, False),
    (subject("root2", "admin", "reader"), "write", "doc:x", None, True),
    (subject("spiffe://example.org/ns/a", "reader"), "read", "doc:2", None, True),
]


@pytest.fixture(scope="module")
def cedar() -> CedarAuthorizer:
    return CedarAuthorizer(CEDAR)


def test_twenty_requests() -> None:
    assert len(REQUESTS) == 20


@pytest.mark.parametrize(("subj", "action", "resource", "context", "expected"), REQUESTS)
def test_cedar_parity(cedar, subj, action, resource, context, expected) -> None:
    ours = ENGINE.decide(subj, action, resource, context)
    theirs = cedar.decide(subj, action, resource, context)
    assert ours.allowed is expected, ours.reasons
    assert theirs.allowed is expected, theirs.reasons


def test_cedar_from_files_and_protocol(tmp_path) -> None:
    policy_file = tmp_path / "p.cedar"
    policy_file.write_text(CEDAR)
    entities = tmp_path / "entities.json"
    entities.write_text('[{"uid": {"type": "Role", "id": "admin"}, "attrs": {}, "parents": []}]')
    authorizer = CedarAuthorizer.from_files([policy_file], entities_file=entities)
    assert isinstance(authorizer, Authorizer)
    with audit.capture() as events:
        decision = authorizer.decide(ADMIN, "read", "doc:1")
    assert decision.allowed
    assert decision.rule_id == "policy0"
    assert events[0].attributes["decision_id"] == decision.decision_id
    assert "CedarAuthorizer(policy_version=" in repr(authorizer)


@pytest.mark.parametrize(
    ("resource", "context"),
    [
        ("bad type!:1", None),
        ("http:/%2fadmin", None),
        ("doc:1", {"amount": 1.5}),
        ("doc:1", {"obj": object()}),
    ],
)
def test_cedar_fails_closed_on_unmappable_requests(cedar, resource, context) -> None:
    assert not cedar.decide(ADMIN, "read", resource, context).allowed


def test_cedar_bad_policy_text_is_a_config_error() -> None:
    with pytest.raises(PolicyConfigError):
        CedarAuthorizer("permit(principal, action, resource")


def test_cedar_missing_extra_names_the_extra(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cedarpy", None)
    with pytest.raises(PolicyConfigError, match=r"meshsec\[cedar\]"):
        CedarAuthorizer(CEDAR)
