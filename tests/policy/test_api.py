"""Public surface of meshsec.policy: __all__, exported errors, reprs."""

from __future__ import annotations

import meshsec.policy
from meshsec.errors import ConfigError, PolicyError
from meshsec.policy import (
    AccessDenied,
    PathNormalizationError,
    PolicyBundleError,
    PolicyConfigError,
    PolicySet,
    Resource,
    Subject,
)
from tests.api import assert_all_is_public, assert_raised_errors_exported

from .helpers import engine, rule


def test_all_is_public() -> None:
    assert_all_is_public(meshsec.policy)


def test_raised_errors_are_exported() -> None:
    assert_raised_errors_exported(meshsec.policy)


def test_error_tree_and_codes() -> None:
    assert issubclass(PolicyConfigError, PolicyError)
    assert issubclass(PolicyConfigError, ConfigError)
    assert issubclass(PathNormalizationError, ValueError)
    codes = {
        PolicyConfigError: "policy.invalid",
        PolicyBundleError: "policy.bad_bundle",
        PathNormalizationError: "policy.bad_path",
        AccessDenied: "policy.denied",
    }
    for cls, code in codes.items():
        assert issubclass(cls, PolicyError)
        assert cls.code == code


def test_access_denied_carries_only_the_decision_id() -> None:
    err = AccessDenied("abc-1")
    assert err.decision_id == "abc-1"
    assert str(err) == "access denied (decision abc-1)"


def test_reprs_hide_claim_and_attribute_values() -> None:
    subject = Subject(principal="u", claims={"email": "someone@example.org"})
    resource = Resource(type="doc", id="1", attributes={"salary": "123456"})
    assert "someone@example.org" not in repr(subject)
    assert "'email'" in repr(subject)
    assert "123456" not in repr(resource)
    assert str(resource) == "doc:1"


def test_reasons_and_audit_never_carry_attribute_values() -> None:
    from meshsec import audit

    eng = engine(rule("a", when=[{"attr": "context.card", "op": "lt", "value": 5}]))
    with audit.capture() as events:
        decision = eng.decide("u", "r", "d:1", {"card": "4111111111111111"})
    assert "4111111111111111" not in repr(decision)
    assert all("4111111111111111" not in repr(e) for e in events)


def test_policy_set_repr_is_short() -> None:
    ps = PolicySet.from_dict({"version": 1, "rules": [rule("a")]})
    assert ps.version_id[:12] in repr(ps)
    assert len(ps.version_id) == 64


def test_scope_string_is_split_on_spaces_not_letters() -> None:
    assert Subject(scopes="orders.read orders.write").scopes == {"orders.read", "orders.write"}  # type: ignore[arg-type]
    assert "p" not in Subject(scopes="pay").scopes  # type: ignore[arg-type]
