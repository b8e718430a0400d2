"""Conformance: every public promise of issue 4, called exactly as the issue writes it."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshsec import audit
from meshsec.cli import _policy
from meshsec.clock import FrozenClock
from meshsec.context import SecurityContext, current_security_context, run_as
from meshsec.errors import ConfigError, MeshsecError, PolicyError
from meshsec.policy import (
    AccessDenied,
    Authorizer,
    CedarAuthorizer,
    Decision,
    Engine,
    OpaAuthorizer,
    PathNormalizationError,
    PolicyBundleError,
    PolicyConfigError,
    PolicySet,
    PolicyStore,
    Resource,
    Subject,
    check,
    enforce,
    normalize_path,
    require_scopes,
)
from meshsec.tokens import KeySet, SigningKey

# Copied verbatim from the issue (one line exceeds the line limit on purpose).
ISSUE_YAML = """\
version: 1                       # format version
rules:
  - id: orders-may-charge        # unique, required
    effect: allow                # allow | deny
    principals: ["spiffe://example.org/ns/prod/sa/orders"]   # glob patterns over the subject's principal
    actions: ["payments:charge", "payments:refund"]          # glob patterns
    resources: ["payment:*"]                                 # glob patterns over "type:id"
    when:                        # all must hold; optional
      - {attr: context.amount, op: lt, value: 1000}
      - {attr: resource.tenant, op: eq, ref: subject.claims.tenant}
      - {attr: context.time, op: between, value: ["08:00", "18:00"], tz: "Europe/Berlin"}
      - {attr: context.source_ip, op: in_cidr, value: ["10.0.0.0/8", "127.0.0.1/32"]}
    obligations: {clearance: confidential}   # optional: handed to the enforcement point
"""  # noqa: E501  the issue's text, verbatim

ORDERS = "spiffe://example.org/ns/prod/sa/orders"
# 2026-06-01 10:00 UTC is 12:00 in Berlin (CEST); 20:00 UTC is 22:00 there.
NOON_BERLIN = datetime(2026, 6, 1, 10, 0, tzinfo=UTC).timestamp()
NIGHT_BERLIN = datetime(2026, 6, 1, 20, 0, tzinfo=UTC).timestamp()


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="meshsec")
    _policy.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


@pytest.fixture
def issue_policy(tmp_path) -> PolicySet:
    path = tmp_path / "policy.yaml"
    path.write_text(ISSUE_YAML)
    return PolicySet.from_file(path)


def good_context(**changes: object) -> dict[str, object]:
    ctx: dict[str, object] = {"amount": 250, "time": NOON_BERLIN, "source_ip": "10.1.2.3"}
    ctx.update(changes)
    return ctx


PAYMENT = Resource(type="payment", id="p-1", attributes={"tenant": "t1"})
CALLER = Subject(principal=ORDERS, claims={"tenant": "t1"})


def test_issue_document_loads_and_allows_as_described(issue_policy) -> None:
    engine = Engine(issue_policy, cache_size=100)
    decision = engine.decide(CALLER, "payments:charge", PAYMENT, good_context())
    assert isinstance(decision, Decision)
    assert decision.allowed is True
    assert decision.effect == "allow"
    assert decision.rule_id == "orders-may-charge"
    assert dict(decision.obligations) == {"clearance": "confidential"}
    assert decision.policy_version == issue_policy.version_id
    assert isinstance(decision.decision_id, str)
    assert decision.decision_id
    assert isinstance(decision.reasons, tuple)


@pytest.mark.parametrize(
    ("subject", "action", "resource", "context"),
    [
        (CALLER, "payments:charge", PAYMENT, good_context(amount=1000)),
        (CALLER, "payments:charge", PAYMENT, good_context(time=NIGHT_BERLIN)),
        (CALLER, "payments:charge", PAYMENT, good_context(source_ip="192.168.0.1")),
        (CALLER, "payments:charge", PAYMENT, good_context(source_ip="127.0.0.2")),
        (
            Subject(principal=ORDERS, claims={"tenant": "t2"}),
            "payments:charge",
            PAYMENT,
            good_context(),
        ),
        (Subject(principal=ORDERS + "x"), "payments:charge", PAYMENT, good_context()),
        (CALLER, "payments:void", PAYMENT, good_context()),
        (
            CALLER,
            "payments:charge",
            Resource(type="invoice", id="1", attributes={"tenant": "t1"}),
            good_context(),
        ),
        (CALLER, "payments:charge", PAYMENT, {"time": NOON_BERLIN, "source_ip": "10.1.2.3"}),
    ],
)
def test_issue_document_denies_each_failed_condition(
    issue_policy, subject, action, resource, context
) -> None:
    decision = Engine(issue_policy).decide(subject, action, resource, context)
    assert decision.allowed is False
    assert decision.effect == "deny"
    assert dict(decision.obligations) == {}


def test_missing_attribute_is_recorded_in_reasons(issue_policy) -> None:
    ctx = good_context()
    del ctx["amount"]
    decision = Engine(issue_policy).decide(CALLER, "payments:charge", PAYMENT, ctx)
    assert not decision.allowed
    assert any("context.amount" in r and "missing" in r for r in decision.reasons)


def test_type_mismatch_is_recorded_in_reasons(issue_policy) -> None:
    decision = Engine(issue_policy).decide(
        CALLER, "payments:charge", PAYMENT, good_context(amount="250")
    )
    assert not decision.allowed
    assert any("context.amount" in r and "type mismatch" in r for r in decision.reasons)


def test_loaders_agree_and_version_id_is_sha256_of_canonical(tmp_path, issue_policy) -> None:
    as_dict = issue_policy.to_dict()
    from_dict = PolicySet.from_dict(as_dict)
    from_json = PolicySet.from_json(json.dumps(as_dict))
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps(as_dict, indent=4))
    from_file = PolicySet.from_file(str(json_file))
    ids = {p.version_id for p in (issue_policy, from_dict, from_json, from_file)}
    assert len(ids) == 1
    version = ids.pop()
    assert version == hashlib.sha256(issue_policy.canonical).hexdigest()
    assert len(version) == 64


def test_version_id_changes_with_content(issue_policy) -> None:
    doc = issue_policy.to_dict()
    doc["rules"][0]["obligations"] = {"clearance": "secret"}
    assert PolicySet.from_dict(doc).version_id != issue_policy.version_id


def test_validation_error_names_rule_id_and_field() -> None:
    doc = {
        "version": 1,
        "rules": [
            {
                "id": "r9",
                "effect": "permit",
                "principals": ["*"],
                "actions": ["*"],
                "resources": ["*"],
            }
        ],
    }
    with pytest.raises(PolicyConfigError) as info:
        PolicySet.from_dict(doc)
    assert isinstance(info.value, PolicyError)
    assert isinstance(info.value, ConfigError)
    assert info.value.code == "policy.invalid"
    assert "r9" in str(info.value)
    assert "effect" in str(info.value)


@pytest.mark.parametrize(
    ("op", "value", "attribute", "expected"),
    [
        ("eq", "a", "a", True),
        ("eq", "a", "b", False),
        ("ne", "a", "b", True),
        ("ne", "a", "a", False),
        ("in", ["a", "b"], "b", True),
        ("in", ["a", "b"], "c", False),
        ("not_in", ["a", "b"], "c", True),
        ("not_in", ["a", "b"], "a", False),
        ("lt", 10, 9, True),
        ("lt", 10, 10, False),
        ("le", 10, 10, True),
        ("le", 10, 11, False),
        ("gt", 10, 11, True),
        ("gt", 10, 10, False),
        ("ge", 10, 10, True),
        ("ge", 10, 9, False),
        ("prefix", "/api/", "/api/v1", True),
        ("prefix", "/api/", "/apx", False),
        ("glob", "*.example.org", "a.example.org", True),
        ("glob", "*.example.org", "a.example.com", False),
        ("contains", "x", ["x", "y"], True),
        ("contains", "z", ["x", "y"], False),
        ("exists", True, "anything", True),
        ("in_cidr", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
        ("in_cidr", ["10.0.0.0/8"], "11.0.0.1", False),
    ],
)
def test_every_operator(op, value, attribute, expected) -> None:
    policy = PolicySet.from_dict(
        {
            "version": 1,
            "rules": [
                {
                    "id": "r",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["*"],
                    "resources": ["*"],
                    "when": [{"attr": "context.x", "op": op, "value": value}],
                }
            ],
        }
    )
    decision = Engine(policy).decide("alice", "act", "thing:1", {"x": attribute})
    assert decision.allowed is expected, decision.reasons


def test_exists_on_missing_attribute_and_between_operator() -> None:
    policy = PolicySet.from_dict(
        {
            "version": 1,
            "rules": [
                {
                    "id": "e",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["e"],
                    "resources": ["*"],
                    "when": [{"attr": "context.x", "op": "exists"}],
                },
                {
                    "id": "night",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["b"],
                    "resources": ["*"],
                    "when": [
                        {
                            "attr": "context.time",
                            "op": "between",
                            "value": ["22:00", "06:00"],
                            "tz": "Europe/Berlin",
                        }
                    ],
                },
            ],
        }
    )
    engine = Engine(policy, clock=FrozenClock(NOON_BERLIN))
    assert not engine.decide("a", "e", "t:1", {}).allowed
    assert engine.decide("a", "e", "t:1", {"x": None}).allowed
    assert engine.decide("a", "b", "t:1", {"time": NIGHT_BERLIN}).allowed
    assert not engine.decide("a", "b", "t:1", {"time": NOON_BERLIN}).allowed
    # No time in the request: the engine's clock (noon) is used.
    assert not engine.decide("a", "b", "t:1").allowed


def test_attribute_roots() -> None:
    when = [
        {"attr": "subject.principal", "op": "eq", "value": "alice"},
        {"attr": "subject.peer_id", "op": "prefix", "value": "spiffe://example.org/"},
        {"attr": "subject.claims.dept", "op": "eq", "value": "ops"},
        {"attr": "subject.scopes", "op": "contains", "value": "docs:read"},
        {"attr": "action", "op": "eq", "value": "read"},
        {"attr": "resource.type", "op": "eq", "value": "doc"},
        {"attr": "resource.id", "op": "eq", "value": "7"},
        {"attr": "resource.attributes.owner", "op": "eq", "ref": "subject.principal"},
        {"attr": "context.method", "op": "eq", "value": "GET"},
    ]
    policy = PolicySet.from_dict(
        {
            "version": 1,
            "rules": [
                {
                    "id": "r",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["*"],
                    "resources": ["*"],
                    "when": when,
                }
            ],
        }
    )
    subject = Subject(
        principal="alice",
        peer_id="spiffe://example.org/ns/a/sa/b",
        claims={"dept": "ops"},
        scopes={"docs:read"},
    )
    doc = Resource(type="doc", id="7", attributes={"owner": "alice"})
    engine = Engine(policy)
    assert engine.decide(subject, "read", doc, {"method": "GET"}).allowed
    assert not engine.decide(subject, "read", doc, {"method": "POST"}).allowed


def test_deny_overrides_and_order_independence() -> None:
    allow = {
        "id": "b-allow",
        "effect": "allow",
        "principals": ["*"],
        "actions": ["*"],
        "resources": ["*"],
    }
    deny = {
        "id": "a-deny",
        "effect": "deny",
        "principals": ["*"],
        "actions": ["del*"],
        "resources": ["*"],
    }
    for rules in ([allow, deny], [deny, allow]):
        engine = Engine(PolicySet.from_dict({"version": 1, "rules": rules}))
        assert engine.decide("x", "delete", "t:1").rule_id == "a-deny"
        assert engine.decide("x", "read", "t:1").allowed
    empty = Engine(PolicySet.from_dict({"version": 1, "rules": []}))
    default = empty.decide("x", "read", "t:1")
    assert (default.allowed, default.rule_id) == (False, None)


def test_decision_is_frozen_attrs() -> None:
    decision = Engine(PolicySet.from_dict({"version": 1, "rules": []})).decide("x", "a", "t:1")
    assert attrs.has(Decision)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        decision.allowed = True  # type: ignore[misc]


def test_explain_lists_every_rule(issue_policy) -> None:
    explanation = Engine(issue_policy).explain(
        CALLER, "payments:charge", PAYMENT, good_context(amount=5000)
    )
    assert not explanation.decision.allowed
    assert [t.rule_id for t in explanation.rules] == ["orders-may-charge"]
    assert not explanation.rules[0].matched
    assert "context.amount" in explanation.render()


def _match_all(effect: str) -> dict[str, Any]:
    """A one-rule document whose rule ``r`` matches every request."""
    rule = {"id": "r", "effect": effect, "principals": ["*"], "actions": ["*"], "resources": ["*"]}
    return {"version": 1, "rules": [rule]}


def test_cache_is_invalidated_on_policy_change(tmp_path) -> None:
    path = tmp_path / "p.json"
    allow = _match_all("allow")
    path.write_text(json.dumps(allow))
    with PolicyStore(path) as store:
        engine = Engine(store, cache_size=10)
        assert engine.decide("a", "read", "t:1").allowed
        allow["rules"][0]["effect"] = "deny"
        path.write_text(json.dumps(allow))
        with audit.capture() as events:
            assert store.poll() is True
        assert any(e.category == audit.Category.CONFIGURATION for e in events)
        assert not engine.decide("a", "read", "t:1").allowed
        path.write_text("{not json")
        with audit.capture() as events:
            assert store.poll() is False
        assert [e.outcome for e in events] == [audit.Outcome.FAILURE]
        assert not engine.decide("a", "read", "t:1").allowed


@pytest.mark.parametrize("path", ["/admin/../admin", "/admin/", "/%61dmin", "/admin//x"])
def test_normalized_paths_cannot_bypass_admin_deny(path) -> None:
    policy = PolicySet.from_dict(
        {
            "version": 1,
            "rules": [
                {
                    "id": "all",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["*"],
                    "resources": ["http:*"],
                },
                {
                    "id": "no-admin",
                    "effect": "deny",
                    "principals": ["*"],
                    "actions": ["*"],
                    "resources": ["http:/admin/*"],
                },
            ],
        }
    )
    decision = Engine(policy).decide("a", "GET", Resource(type="http", id=path))
    assert not decision.allowed


def test_uppercase_admin_denied_when_case_insensitive() -> None:
    policy = PolicySet.from_dict(
        {
            "version": 1,
            "case_sensitive_paths": False,
            "rules": [
                {
                    "id": "all",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["*"],
                    "resources": ["http:*"],
                },
                {
                    "id": "no-admin",
                    "effect": "deny",
                    "principals": ["*"],
                    "actions": ["*"],
                    "resources": ["http:/admin/*"],
                },
            ],
        }
    )
    assert not Engine(policy).decide("a", "GET", "http:/ADMIN/x").allowed


@pytest.mark.parametrize("hostile", ["/%2fadmin", "/a%5cb", "/a%00", "/..", "/a/../../b"])
def test_normalize_path_rejects(hostile) -> None:
    with pytest.raises(PathNormalizationError) as info:
        normalize_path(hostile)
    assert info.value.code == "policy.bad_path"
    assert isinstance(info.value, PolicyError)


def test_normalize_path_canonical_forms() -> None:
    assert normalize_path("/admin/../admin") == "/admin"
    assert normalize_path("/%61dmin") == "/admin"
    assert normalize_path("/a//b/./c") == "/a/b/c"


ENFORCE_POLICY = PolicySet.from_dict(
    {
        "version": 1,
        "rules": [
            {
                "id": "read-own",
                "effect": "allow",
                "principals": ["alice"],
                "actions": ["doc:read"],
                "resources": ["doc:*"],
                "obligations": {"mask": "ssn"},
            },
        ],
    }
)


def test_enforce_sync_with_resource_callable_and_obligations() -> None:
    engine = Engine(ENFORCE_POLICY)

    @enforce("doc:read", resource=lambda doc_id: f"doc:{doc_id}", engine=engine)
    def read(doc_id: str) -> object:
        return dict(current_security_context().obligations)

    with run_as(SecurityContext(principal="alice")):
        assert read("1") == {"mask": "ssn"}
    with (
        run_as(SecurityContext(principal="mallory")),
        audit.capture() as events,
        pytest.raises(AccessDenied) as info,
    ):
        read("1")
    denied = info.value
    assert isinstance(denied, PolicyError)
    assert denied.code == "policy.denied"
    assert denied.decision_id
    assert events[-1].attributes["decision_id"] == denied.decision_id
    assert "read-own" not in str(denied)


def test_enforce_async() -> None:
    engine = Engine(ENFORCE_POLICY)

    @enforce("doc:read", resource=lambda doc_id: Resource(type="doc", id=doc_id), engine=engine)
    async def read(doc_id: str) -> str:
        return doc_id

    with run_as(SecurityContext(principal="alice")):
        assert asyncio.run(read("9")) == "9"
    with run_as(SecurityContext(principal="bob")), pytest.raises(AccessDenied):
        asyncio.run(read("9"))


def test_check_functional_form_positional_and_keyword() -> None:
    engine = Engine(ENFORCE_POLICY)
    with run_as(SecurityContext(principal="alice")):
        assert check("doc:read", "doc:1", engine=engine).allowed
        assert check("doc:read", resource="doc:1", context={}, engine=engine).allowed
    with run_as(SecurityContext(principal="bob")), pytest.raises(AccessDenied):
        check("doc:read", "doc:1", engine=engine)


def test_require_scopes_args_and_list() -> None:
    @require_scopes("a", "b")
    def both() -> int:
        return 1

    @require_scopes(["a", "b"])
    def both_list() -> int:
        return 2

    with run_as(SecurityContext(principal="x", scopes=frozenset({"a", "b"}))):
        assert (both(), both_list()) == (1, 2)
    with run_as(SecurityContext(principal="x", scopes=frozenset({"a"}))):
        for fn in (both, both_list):
            with pytest.raises(AccessDenied):
                fn()


def test_engine_implements_authorizer_and_classes_exist() -> None:
    assert isinstance(Engine(ENFORCE_POLICY), Authorizer)
    assert hasattr(CedarAuthorizer, "decide")
    assert hasattr(OpaAuthorizer, "decide")


def test_dry_run_rule_and_set() -> None:
    rules = [
        {
            "id": "read",
            "effect": "allow",
            "principals": ["*"],
            "actions": ["read"],
            "resources": ["*"],
        },
        {
            "id": "watch",
            "effect": "deny",
            "mode": "dry_run",
            "principals": ["*"],
            "actions": ["read"],
            "resources": ["doc:secret"],
        },
    ]
    engine = Engine(PolicySet.from_dict({"version": 1, "rules": rules}))
    with audit.capture() as events:
        decision = engine.decide("a", "read", "doc:secret")
    assert decision.allowed
    assert decision.dry_run == "would deny"
    assert events[0].attributes["dry_run"] == "would deny"
    whole = Engine(PolicySet.from_dict({"version": 1, "mode": "dry_run", "rules": rules[:1]}))
    shadow = whole.decide("a", "write", "doc:1")
    assert shadow.allowed
    assert shadow.dry_run == "would deny"


def test_authorization_audit_events_and_sampling() -> None:
    from meshsec.correlation import CorrelationContext

    policy = PolicySet.from_dict(
        {
            "version": 1,
            "rules": [
                {
                    "id": "r",
                    "effect": "allow",
                    "principals": ["*"],
                    "actions": ["read"],
                    "resources": ["*"],
                }
            ],
        }
    )
    quiet = Engine(policy, allow_sample_rate=0.0)
    with audit.capture() as events:
        quiet.decide("a", "read", "t:1")
        denied = quiet.decide("a", "write", "t:1")
    assert len(events) == 1
    event = events[0]
    assert event.category == audit.Category.AUTHORIZATION
    assert event.outcome == audit.Outcome.DENIED
    assert event.attributes["decision_id"] == denied.decision_id
    assert event.attributes["policy_version"] == policy.version_id
    assert "rule_id" in event.attributes
    with audit.capture() as events:
        Engine(policy).decide("a", "read", "t:1")
    assert len(events) == 1
    assert events[0].attributes["rule_id"] == "r"
    assert CorrelationContext is not None


def test_authorization_event_carries_the_correlation_id() -> None:
    from meshsec import correlation

    policy = PolicySet.from_dict({"version": 1, "rules": []})
    with correlation.scope(), audit.capture() as events:
        Engine(policy).decide("a", "read", "t:1")
        expected = correlation.current_id()
    assert expected
    assert events[0].correlation_id == expected


def test_bundle_round_trip_and_tamper(tmp_path, issue_policy) -> None:
    key = SigningKey.generate()
    path = tmp_path / "bundle.json"
    path.write_bytes(issue_policy.to_bundle(key))
    keys = KeySet([key.public()])
    assert PolicySet.from_bundle(path, keys=keys).version_id == issue_policy.version_id
    assert PolicySet.from_bundle(str(path), keys=keys) == issue_policy
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(issue_policy.to_dict()))
    with pytest.raises(PolicyBundleError) as info:
        PolicySet.from_bundle(unsigned, keys=keys)
    assert info.value.code == "policy.bad_bundle"


# -- CLI ------------------------------------------------------------------------


@pytest.fixture
def policy_yaml(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(ISSUE_YAML)
    return path


def test_cli_check(policy_yaml, capsys) -> None:
    assert cli("policy", "check", str(policy_yaml)) == 0
    assert PolicySet.from_file(policy_yaml).version_id in capsys.readouterr().out


CASES_YAML = f"""\
cases:
  - name: orders charge in office hours
    request:
      subject: {{principal: "{ORDERS}", claims: {{tenant: t1}}}}
      action: payments:charge
      resource: {{type: payment, id: p-1, attributes: {{tenant: t1}}}}
      context: {{amount: 250, time: "2026-06-01T10:00:00+00:00", source_ip: 10.1.2.3}}
    expect: allow
  - name: too much
    request:
      subject: {{principal: "{ORDERS}", claims: {{tenant: t1}}}}
      action: payments:charge
      resource: {{type: payment, id: p-1, attributes: {{tenant: t1}}}}
      context: {{amount: 5000, time: "2026-06-01T10:00:00+00:00", source_ip: 10.1.2.3}}
    expect: {{effect: deny, rule_id: null}}
"""


def test_cli_test_passes_and_mismatch_exits_nonzero_with_diff(
    policy_yaml, tmp_path, capsys
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES_YAML)
    assert cli("policy", "test", str(policy_yaml), str(cases)) == 0
    capsys.readouterr()
    cases.write_text(CASES_YAML.replace("expect: allow", "expect: deny"))
    assert cli("policy", "test", str(policy_yaml), str(cases)) != 0
    out = capsys.readouterr().out
    assert "- expected effect: deny" in out
    assert "+ actual   effect: allow" in out


def test_cli_explain(policy_yaml, tmp_path, capsys) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "subject": {"principal": ORDERS, "claims": {"tenant": "t1"}},
                "action": "payments:charge",
                "resource": "payment:p-1",
                "context": {"amount": 250},
            }
        )
    )
    assert cli("policy", "explain", str(policy_yaml), str(request)) == 0
    out = capsys.readouterr().out
    assert "DENY" in out
    assert "orders-may-charge" in out


def test_cli_sign_non_interactive_with_default_env(policy_yaml, tmp_path, monkeypatch) -> None:
    key = SigningKey.generate()
    key_file = tmp_path / "key.pem"
    key.save(key_file, passphrase="s3cret pass")
    monkeypatch.setenv("MESHSEC_KEY_PASSPHRASE", "s3cret pass")
    out = tmp_path / "bundle.json"
    assert cli("policy", "sign", str(policy_yaml), "--key", str(key_file), "-o", str(out)) == 0
    assert "s3cret" not in out.read_text()
    bundle = PolicySet.from_bundle(out, keys=KeySet([key.public()]))
    assert bundle.version_id == PolicySet.from_file(policy_yaml).version_id


def test_cli_sign_without_passphrase_fails_instead_of_prompting(
    policy_yaml, tmp_path, monkeypatch
) -> None:
    key_file = tmp_path / "key.pem"
    SigningKey.generate().save(key_file, passphrase="s3cret pass")
    monkeypatch.delenv("MESHSEC_KEY_PASSPHRASE", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    with pytest.raises(MeshsecError) as info:
        cli("policy", "sign", str(policy_yaml), "--key", str(key_file))
    assert "MESHSEC_KEY_PASSPHRASE" in str(info.value)
    assert "s3cret" not in str(info.value)


def _doc_block(language: str, marker: str) -> str:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    blocks = re.findall(rf"^```{language}\n(.*?)^```", docs, re.DOTALL | re.MULTILINE)
    return next(b for b in blocks if marker in b)


def test_documented_cases_and_request_examples_run(policy_yaml, tmp_path, capsys) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(_doc_block("yaml", "cases:"))
    assert cli("policy", "test", str(policy_yaml), str(cases)) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    request = tmp_path / "request.json"
    request.write_text(_doc_block("json", '"action": "payments:charge"'))
    assert cli("policy", "explain", str(policy_yaml), str(request)) == 0
    out = capsys.readouterr().out
    # No time in the request: the outcome follows the wall clock, the trace does not.
    assert "] orders-may-charge (allow, enforce)" in out
    assert "context.time" in out


def test_real_command_exit_statuses(policy_yaml, tmp_path) -> None:
    """The installed ``meshsec`` entry point: 0 ok, 1 on a case mismatch, 2 on an error."""

    def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from meshsec.cli import main; sys.exit(main())",
                *argv,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    assert run("policy", "check", str(policy_yaml)).returncode == 0
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES_YAML.replace("expect: allow", "expect: deny"))
    failed = run("policy", "test", str(policy_yaml), str(cases))
    assert failed.returncode == 1
    assert "expected effect: deny" in failed.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(ISSUE_YAML.replace("op: lt", "op: less"))
    broken = run("policy", "check", str(bad))
    assert broken.returncode == 2
    assert "error [policy.invalid]" in broken.stderr
    assert "orders-may-charge" in broken.stderr
    # sign in a script: no terminal, passphrase from the default variable.
    key_file = tmp_path / "key.pem"
    SigningKey.generate().save(key_file, passphrase="s3cret pass")
    env = {k: v for k, v in os.environ.items() if k != "MESHSEC_KEY_PASSPHRASE"}
    no_pass = run("policy", "sign", str(policy_yaml), "--key", str(key_file), env=env)
    assert no_pass.returncode == 2
    assert "MESHSEC_KEY_PASSPHRASE" in no_pass.stderr
    env["MESHSEC_KEY_PASSPHRASE"] = "s3cret pass"
    signed = run("policy", "sign", str(policy_yaml), "--key", str(key_file), env=env)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["format"] == "meshsec-policy-bundle/1"


def test_failing_subscriber_does_not_keep_the_engine_on_the_old_policy(tmp_path) -> None:
    path = tmp_path / "p.json"
    doc = _match_all("allow")
    path.write_text(json.dumps(doc))
    with PolicyStore(path) as store:

        def broken(_policy: PolicySet) -> None:
            raise RuntimeError("subscriber bug")

        store.subscribe(broken)
        engine = Engine(store)  # subscribes after the broken one
        doc["rules"][0]["effect"] = "deny"
        path.write_text(json.dumps(doc))
        with audit.capture() as events:
            assert store.poll() is True
        assert not engine.decide("a", "read", "t:1").allowed
        assert engine.policy_version == store.current.version_id
        failures = [e for e in events if e.outcome == audit.Outcome.FAILURE]
        assert [e.action for e in failures] == ["policy.subscriber"]


def test_cli_test_expect_allowed_and_obligations(policy_yaml, tmp_path, capsys) -> None:
    cases = tmp_path / "cases.yaml"
    good = CASES_YAML.replace(
        "expect: allow", "expect: {allowed: true, obligations: {clearance: confidential}}"
    )
    cases.write_text(good)
    assert cli("policy", "test", str(policy_yaml), str(cases)) == 0
    cases.write_text(good.replace("clearance: confidential", "clearance: public"))
    assert cli("policy", "test", str(policy_yaml), str(cases)) == 1
    assert "- expected obligations: {'clearance': 'public'}" in capsys.readouterr().out
    cases.write_text(good.replace("allowed: true", "allowed: yes please"))
    with pytest.raises(PolicyConfigError):
        cli("policy", "test", str(policy_yaml), str(cases))


def test_dry_run_would_deny_is_never_sampled_away() -> None:
    rules = [
        {
            "id": "read",
            "effect": "allow",
            "principals": ["*"],
            "actions": ["read"],
            "resources": ["*"],
        },
        {
            "id": "watch",
            "effect": "deny",
            "mode": "dry_run",
            "principals": ["*"],
            "actions": ["read"],
            "resources": ["doc:secret"],
        },
    ]
    engine = Engine(PolicySet.from_dict({"version": 1, "rules": rules}), allow_sample_rate=0.0)
    with audit.capture() as events:
        for _ in range(5):
            engine.decide("a", "read", "doc:public")
        watched = engine.decide("a", "read", "doc:secret")
    assert watched.allowed
    assert len(events) == 1
    assert events[0].attributes["dry_run"] == "would deny"
    assert events[0].attributes["decision_id"] == watched.decision_id
