"""Red team: the names and signatures the issue promises, exactly."""

from __future__ import annotations

import hashlib
import inspect
import json

import attrs
import pytest

from meshsec.policy import (
    AccessDenied,
    Authorizer,
    CedarAuthorizer,
    Decision,
    Engine,
    OpaAuthorizer,
    PolicySet,
    check,
    enforce,
    require_scopes,
)

from .helpers import engine, rule


def _params(fn) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(fn).parameters)


def test_policy_set_loaders_exist() -> None:
    for name in ("from_file", "from_dict", "from_json", "from_bundle"):
        assert callable(getattr(PolicySet, name))
    assert _params(PolicySet.from_bundle)["keys"].kind is inspect.Parameter.KEYWORD_ONLY


def test_engine_signatures() -> None:
    init = _params(Engine.__init__)
    assert init["cache_size"].kind is inspect.Parameter.KEYWORD_ONLY
    decide = list(_params(Engine.decide))
    assert decide[:5] == ["self", "subject", "action", "resource", "context"]
    assert _params(Engine.decide)["context"].default is None
    assert list(_params(Engine.explain))[:5] == decide[:5]


def test_enforce_check_and_require_scopes_signatures() -> None:
    params = _params(enforce)
    assert next(iter(params)) == "action"
    for name in ("resource", "engine"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default is None
    assert "engine" in _params(check)
    assert _params(require_scopes)["scopes"].kind is inspect.Parameter.VAR_POSITIONAL


def test_decision_is_a_frozen_attrs_class_with_the_promised_fields() -> None:
    assert attrs.has(Decision)
    names = {f.name for f in attrs.fields(Decision)}
    assert {
        "allowed",
        "effect",
        "rule_id",
        "reasons",
        "obligations",
        "policy_version",
        "decision_id",
    } <= names
    decision = engine(rule("r")).decide("u", "a", "t:1")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        decision.allowed = False  # type: ignore[misc]


def test_authorizer_protocol_is_implemented_by_all_three() -> None:
    for cls in (Engine, CedarAuthorizer, OpaAuthorizer):
        assert callable(cls.decide)
        assert list(_params(cls.decide))[:5] == [
            "self",
            "subject",
            "action",
            "resource",
            "context",
        ]
    assert isinstance(engine(rule("r")), Authorizer)


def test_access_denied_carries_the_decision_id() -> None:
    err = AccessDenied("d-1")
    assert err.decision_id == "d-1"
    assert err.code == "policy.denied"


def test_version_id_is_the_sha256_of_the_canonical_document() -> None:
    doc = {"version": 1, "rules": [rule("b"), rule("a", effect="deny")]}
    reordered = {"rules": list(reversed(doc["rules"])), "version": 1}
    one = PolicySet.from_dict(doc)
    two = PolicySet.from_json(json.dumps(reordered, indent=3))
    assert one.version_id == two.version_id == hashlib.sha256(one.canonical).hexdigest()
    changed = PolicySet.from_dict({"version": 1, "rules": [rule("b"), rule("a")]})
    assert changed.version_id != one.version_id
