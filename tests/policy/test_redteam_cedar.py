"""Red team: request data cannot rewrite Cedar's entities or escape its entity ids."""

from __future__ import annotations

import pytest

pytest.importorskip("cedarpy", reason="cedarpy (extra meshsec[cedar]) is not installed")

from meshsec.policy import CedarAuthorizer

POLICIES = """
permit(principal in Role::"admin", action, resource);
forbid(principal, action, resource) when { resource has locked && resource.locked };
"""
STATIC = [
    {
        "uid": {"type": "User", "id": "root"},
        "attrs": {},
        "parents": [{"type": "Role", "id": "admin"}],
    },
    {"uid": {"type": "doc", "id": "vault"}, "attrs": {"locked": True}, "parents": []},
]


@pytest.fixture(scope="module")
def cedar() -> CedarAuthorizer:
    return CedarAuthorizer(POLICIES, entities=STATIC)


def test_request_attributes_cannot_unlock_a_static_resource(cedar) -> None:
    admin = {"principal": "ops", "claims": {"roles": ["admin"]}}
    assert cedar.decide(admin, "read", "doc:other").allowed
    forged = {"type": "doc", "id": "vault", "attributes": {"locked": False}}
    assert not cedar.decide(admin, "read", forged).allowed
    assert not cedar.decide(admin, "read", "doc:vault").allowed


def test_request_claims_cannot_replace_a_static_principal(cedar) -> None:
    # "root" is an admin by the static entities; a request naming it is refused, not merged.
    decision = cedar.decide({"principal": "root", "claims": {"roles": []}}, "read", "doc:x")
    assert not decision.allowed


@pytest.mark.parametrize(
    "principal",
    ['root" || true || "', 'User::"root"', "root\\", "root\x00", 'x", "parents": []'],
)
def test_hostile_principal_text_stays_one_entity_id(cedar, principal: str) -> None:
    assert not cedar.decide(principal, "read", "doc:x").allowed


@pytest.mark.parametrize("rtype", ['doc::"x"', "doc x", "1doc", "doc\n", "doc::"])
def test_hostile_resource_types_deny(cedar, rtype: str) -> None:
    admin = {"principal": "ops", "claims": {"roles": ["admin"]}}
    assert not cedar.decide(admin, "read", {"type": rtype, "id": "1"}).allowed
