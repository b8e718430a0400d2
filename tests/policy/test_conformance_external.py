"""Conformance: the Authorizer protocol over Cedar and OPA, as the issue writes it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from meshsec import audit
from meshsec.context import SecurityContext, run_as
from meshsec.policy import (
    AccessDenied,
    Authorizer,
    CedarAuthorizer,
    Engine,
    OpaAuthorizer,
    PolicyConfigError,
    PolicySet,
    PolicyStore,
    Resource,
    Subject,
    check,
    enforce,
)

from .servers import reply, serve


def opa_server(answers: dict[str, Any], seen: list[Any]):
    def handle(handler) -> None:
        match = re.fullmatch(r"/v1/data/([A-Za-z0-9_/]+)", handler.path)
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length))
        seen.append((handler.path, body))
        if match is None:
            reply(handler, 404, b"{}")
            return
        reply(handler, 200, json.dumps(answers.get(match.group(1), {})).encode())

    return serve(handle_post=handle)


def test_opa_both_call_shapes_post_the_data_api_input() -> None:
    seen: list[Any] = []
    with opa_server({"authz/allow": {"result": True}}, seen) as base:
        subject = Subject(
            principal="alice", peer_id="spiffe://e.org/a", claims={"r": "x"}, scopes={"s"}
        )
        resource = Resource(type="doc", id="1", attributes={"owner": "alice"})
        for opa in (
            OpaAuthorizer(base, "authz/allow"),
            OpaAuthorizer(f"{base}/v1/data/authz/allow"),
        ):
            with opa:
                assert isinstance(opa, Authorizer)
                decision = opa.decide(subject, "read", resource, {"amount": 3})
                assert decision.allowed
    assert [path for path, _ in seen] == ["/v1/data/authz/allow"] * 2
    body = seen[0][1]
    assert set(body) == {"input"}
    sent = body["input"]
    assert sent["action"] == "read"
    assert sent["subject"]["principal"] == "alice"
    assert sent["subject"]["peer_id"] == "spiffe://e.org/a"
    assert sent["resource"] == {"type": "doc", "id": "1", "attributes": {"owner": "alice"}}
    assert sent["context"] == {"amount": 3}


@pytest.mark.parametrize(
    "answer", [{"result": "true"}, {"result": 1}, {"result": {"allow": True}}, {}, {"result": None}]
)
def test_opa_non_boolean_result_fails_closed(answer) -> None:
    with (
        opa_server({"authz/allow": answer}, []) as base,
        OpaAuthorizer(base, "authz/allow") as opa,
        audit.capture() as events,
    ):
        decision = opa.decide("alice", "read", "doc:1")
    assert not decision.allowed
    assert events[0].outcome == audit.Outcome.DENIED
    assert events[0].attributes["decision_id"] == decision.decision_id


def test_opa_unreachable_fails_closed_and_backs_enforce() -> None:
    with opa_server({}, []) as base:
        pass  # the server is gone: connection refused
    opa = OpaAuthorizer(base, "authz/allow", timeout=(0.5, 0.5))

    @enforce("read", resource=lambda doc: f"doc:{doc}", engine=opa)
    def read(doc: str) -> str:
        return doc

    with run_as(SecurityContext(principal="alice")), pytest.raises(AccessDenied) as info:
        read("1")
    assert info.value.decision_id
    opa.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/v1/data/", "http://127.0.0.1:1/opa"])
def test_opa_url_without_a_rule_path_is_refused(url) -> None:
    with pytest.raises(PolicyConfigError) as info:
        OpaAuthorizer(url)
    assert info.value.code == "policy.invalid"


CEDAR = """
permit(principal == User::"alice", action == Action::"read", resource)
when { resource.owner == principal.dept };
forbid(principal, action, resource == doc::"secret");
"""


def test_cedar_same_request_shape_and_check() -> None:
    pytest.importorskip("cedarpy", reason="the cedar extra (cedarpy) is not installed")
    cedar = CedarAuthorizer(CEDAR)
    assert isinstance(cedar, Authorizer)
    alice = Subject(principal="alice", claims={"dept": "ops"})
    ops_doc = Resource(type="doc", id="1", attributes={"owner": "ops"})
    with audit.capture() as events:
        allowed = cedar.decide(alice, "read", ops_doc, None)
    assert allowed.allowed
    assert allowed.effect == "allow"
    assert allowed.rule_id == "policy0"
    assert events[0].category == audit.Category.AUTHORIZATION
    assert not cedar.decide(
        alice, "read", Resource(type="doc", id="secret", attributes={"owner": "ops"})
    ).allowed
    assert not cedar.decide("bob", "read", ops_doc).allowed
    with run_as(SecurityContext(principal="alice", claims={"dept": "ops"})):
        assert check("read", ops_doc, engine=cedar).allowed
        with pytest.raises(AccessDenied):
            check("read", Resource(type="doc", id="2", attributes={"owner": "hr"}), engine=cedar)


def test_engine_and_cedar_agree_on_the_equivalent_policy() -> None:
    pytest.importorskip("cedarpy", reason="the cedar extra (cedarpy) is not installed")
    engine = Engine(
        PolicySet.from_dict(
            {
                "version": 1,
                "rules": [
                    {
                        "id": "p0",
                        "effect": "allow",
                        "principals": ["alice"],
                        "actions": ["read"],
                        "resources": ["*"],
                        "when": [
                            {"attr": "resource.owner", "op": "eq", "ref": "subject.claims.dept"}
                        ],
                    },
                    {
                        "id": "p1",
                        "effect": "deny",
                        "principals": ["*"],
                        "actions": ["*"],
                        "resources": ["doc:secret"],
                    },
                ],
            }
        )
    )
    cedar = CedarAuthorizer(CEDAR)
    requests = [
        (Subject(principal=p, claims=c), "read", Resource(type="doc", id=i, attributes=a))
        for p in ("alice", "bob")
        for c in ({"dept": "ops"}, {})
        for i in ("1", "secret")
        for a in ({"owner": "ops"}, {})
    ]
    for subject, action, resource in requests:
        assert (
            engine.decide(subject, action, resource).allowed
            == cedar.decide(subject, action, resource).allowed
        ), (subject, resource)


@pytest.mark.parametrize("as_str", [True, False])
def test_cedar_from_files_takes_one_path_or_a_list(tmp_path, as_str) -> None:
    pytest.importorskip("cedarpy", reason="the cedar extra (cedarpy) is not installed")
    policy_file = tmp_path / "policy.cedar"
    policy_file.write_text(CEDAR)
    one = str(policy_file) if as_str else policy_file
    alice = Subject(principal="alice", claims={"dept": "ops"})
    doc = Resource(type="doc", id="1", attributes={"owner": "ops"})
    for authorizer in (CedarAuthorizer.from_files(one), CedarAuthorizer.from_files([one])):
        assert authorizer.decide(alice, "read", doc).allowed
        assert not authorizer.decide("bob", "read", doc).allowed


def test_opa_timeout_as_one_number_still_reaches_the_server() -> None:
    seen: list[Any] = []
    with (
        opa_server({"authz/allow": {"result": True}}, seen) as base,
        OpaAuthorizer(base, "authz/allow", timeout=2.0) as opa,
    ):
        assert opa.decide("alice", "read", "doc:1").allowed
    assert len(seen) == 1


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "2", (1.0,), True])
def test_bad_timeouts_are_refused_at_construction(timeout, tmp_path) -> None:
    with pytest.raises(PolicyConfigError):
        OpaAuthorizer("http://127.0.0.1:1", "authz/allow", timeout=timeout)
    path = tmp_path / "p.json"
    path.write_text('{"version": 1, "rules": []}')
    with pytest.raises(PolicyConfigError):
        PolicyStore(path, timeout=timeout)
