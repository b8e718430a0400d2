"""OpaAuthorizer against a real loopback server speaking OPA's Data API.

When ``regopy`` (rego-cpp, a Rego interpreter; no OPA server binary exists
on the package registries) is installed, the server evaluates real Rego;
the protocol and fail-closed tests use a plain Python decision function.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from meshsec import audit
from meshsec.policy import Authorizer, OpaAuthorizer, PolicyConfigError, Subject

from .servers import reply, serve

REGO = """package meshsec.authz
import rego.v1

default allow := false

allow if {
  input.action == "read"
  input.resource.type == "doc"
  "reader" in input.subject.claims.roles
}

allow if {
  input.subject.principal == "alice"
  input.action == "write"
  input.context.amount < 100
}

info := {"not": "a boolean"}
"""

Evaluate = Callable[[str, Any], tuple[int, bytes]]


def data_api(evaluate: Evaluate, seen: list[Any] | None = None):
    """POST /v1/data/<path> with {"input": ...} -> evaluate(path, input)."""

    def handle(handler) -> None:
        match = re.fullmatch(r"/v1/data/([A-Za-z0-9_/]+)", handler.path)
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length))
        if seen is not None:
            seen.append((handler.path, body))
        if match is None or set(body) != {"input"}:
            reply(handler, 400, b'{"code": "invalid_parameter"}')
            return
        status, answer = evaluate(match.group(1), body["input"])
        reply(handler, status, answer, Content_Type="application/json")

    return handle


def rego_evaluator() -> Evaluate:
    regopy = pytest.importorskip("regopy", reason="regopy (rego-cpp) is not installed")
    lock = threading.Lock()

    def evaluate(path: str, inp: Any) -> tuple[int, bytes]:
        with lock:
            rego = regopy.Interpreter()
            rego.add_module("authz.rego", REGO)
            rego.set_input_term(json.dumps(inp))
            out = rego.query("x = data." + path.replace("/", "."))
        if str(out) == "undefined":
            return 200, b"{}"  # OPA answers an undefined document with no "result"
        return 200, ('{"result": ' + out.binding("x").json() + "}").encode()

    return evaluate


READER = Subject(principal="rita", claims={"roles": ["reader"]})
ALICE = Subject(principal="alice")


def test_real_rego_behind_the_data_api() -> None:
    evaluate = rego_evaluator()
    seen: list[Any] = []
    with serve(handle_post=data_api(evaluate, seen)) as base:
        with OpaAuthorizer(base, "meshsec/authz/allow") as opa:
            assert isinstance(opa, Authorizer)
            assert opa.decide(READER, "read", "doc:1").allowed
            assert not opa.decide(READER, "write", "doc:1").allowed
            assert opa.decide(ALICE, "write", "doc:1", {"amount": 5}).allowed
            assert not opa.decide(ALICE, "write", "doc:1", {"amount": 500}).allowed
            assert not opa.decide(ALICE, "write", "doc:1").allowed
        with OpaAuthorizer(base, "meshsec/authz/info") as opa:
            decision = opa.decide(READER, "read", "doc:1")
            assert not decision.allowed
            assert "not a boolean" in decision.reasons[0]
        with OpaAuthorizer(base, "meshsec/authz/nothing_here") as opa:
            assert not opa.decide(READER, "read", "doc:1").allowed
    path, body = seen[0]
    assert path == "/v1/data/meshsec/authz/allow"
    assert body["input"]["subject"]["principal"] == "rita"
    assert body["input"]["resource"] == {"type": "doc", "id": "1", "attributes": {}}


def fixed(status: int, body: bytes, delay: float = 0.0) -> Evaluate:
    def evaluate(path: str, inp: Any) -> tuple[int, bytes]:
        time.sleep(delay)
        return status, body

    return evaluate


@pytest.mark.parametrize(
    ("status", "body", "allowed"),
    [
        (200, b'{"result": true}', True),
        (200, b'{"result": false}', False),
        (200, b"{}", False),
        (200, b'{"result": "true"}', False),
        (200, b'{"result": 1}', False),
        (200, b'{"result": {"allow": true}}', False),
        (200, b"[true]", False),
        (200, b"not json", False),
        (500, b'{"result": true}', False),
        (404, b'{"result": true}', False),
    ],
)
def test_fail_closed_on_anything_but_true(status, body, allowed) -> None:
    with (
        serve(handle_post=data_api(fixed(status, body))) as base,
        OpaAuthorizer(base, "x/allow") as opa,
        audit.capture() as events,
    ):
        decision = opa.decide(READER, "read", "doc:1")
    assert decision.allowed is allowed
    assert events[0].outcome == (audit.Outcome.SUCCESS if allowed else audit.Outcome.DENIED)


def test_timeout_fails_closed() -> None:
    with (
        serve(handle_post=data_api(fixed(200, b'{"result": true}', delay=0.5))) as base,
        OpaAuthorizer(base, "x/allow", timeout=(0.5, 0.1)) as opa,
    ):
        decision = opa.decide(READER, "read", "doc:1")
    assert not decision.allowed
    assert "unreachable" in decision.reasons[0]


def test_unreachable_server_fails_closed() -> None:
    with serve(handle_post=data_api(fixed(200, b""))) as base:
        pass  # the port is closed again
    with OpaAuthorizer(base, "x/allow") as opa:
        assert not opa.decide(READER, "read", "doc:1").allowed


def test_unserializable_input_fails_closed() -> None:
    with OpaAuthorizer("http://127.0.0.1:9", "x/allow") as opa:
        assert not opa.decide(READER, "read", "doc:1", {"when": object()}).allowed


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://opa.example:8181", "x/allow"),  # plain http off-host
        ("ftp://127.0.0.1", "x/allow"),
        ("http://127.0.0.1:8181", "../admin"),
        ("http://127.0.0.1:8181", "x/allow?debug=1"),
    ],
)
def test_bad_configuration_rejected(url, path) -> None:
    with pytest.raises(PolicyConfigError):
        OpaAuthorizer(url, path)


def test_unsafe_http_is_loud() -> None:
    with audit.capture() as events:
        OpaAuthorizer("http://opa.example:8181", "x/allow", unsafe_allow_http=True)
    assert events[0].action == "policy.opa.unsafe_allow_http"


def test_credentials_in_urls_rejected() -> None:
    from meshsec.policy import PolicyStore

    with pytest.raises(PolicyConfigError):
        OpaAuthorizer("https://user:secret@opa.example", "x/allow")
    with pytest.raises(PolicyConfigError, match="credentials") as info:
        PolicyStore("https://user:secret@127.0.0.1:9/p.json")
    assert "secret" not in str(info.value)
