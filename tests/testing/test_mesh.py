"""TestMesh: real identities, contexts, a loopback server, tokens and keys."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError, TokenError
from meshsec.fields import FieldCipher
from meshsec.identity import InvalidSpiffeId, SpiffeId, TrustDomainMismatch
from meshsec.mtls import PeerCertificateUntrusted, PeerNotAuthorized, allow_path_prefix
from meshsec.testing import ServedRequest, TestMesh, capture_audit
from meshsec.tokens import BindingMismatch, TokenExpired, WrongAudience


@pytest.fixture
def mesh() -> TestMesh:
    with TestMesh() as mesh:
        yield mesh


def ok(_request: ServedRequest) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b"ok"


def test_workload_shorthand_names_an_id_in_the_trust_domain(mesh: TestMesh) -> None:
    assert str(mesh.workload("orders").identity.spiffe_id) == "spiffe://test.example/orders"
    assert str(mesh.spiffe_id("/ns/prod/sa/orders")) == "spiffe://test.example/ns/prod/sa/orders"
    full = SpiffeId.parse("spiffe://test.example/a/b")
    assert mesh.spiffe_id("spiffe://test.example/a/b") == full == mesh.spiffe_id(full)


def test_same_name_same_source(mesh: TestMesh) -> None:
    orders = mesh.workload("orders")
    assert mesh.workload("spiffe://test.example/orders") is orders
    assert mesh.workload(orders) is orders
    assert mesh.workload("payments") is not orders


@pytest.mark.parametrize("bad", ["", "has space", "a//b", "Ünïcode", "x/../y", "x?y"])
def test_invalid_workload_names_refused(mesh: TestMesh, bad: str) -> None:
    with pytest.raises(InvalidSpiffeId):
        mesh.workload(bad)


def test_workload_of_another_trust_domain_refused(mesh: TestMesh) -> None:
    with pytest.raises(TrustDomainMismatch):
        mesh.workload("spiffe://evil.example/orders")


def test_non_string_workload_refused(mesh: TestMesh) -> None:
    with pytest.raises(ConfigError):
        mesh.workload(42)  # type: ignore[arg-type]


def test_workloads_share_the_mesh_bundle(mesh: TestMesh) -> None:
    assert mesh.workload("a").bundle is mesh.ca.bundle
    assert mesh.ca.trust_domain == mesh.trust_domain == "test.example"


def test_custom_trust_domain() -> None:
    with TestMesh("corp.internal") as mesh:
        assert str(mesh.workload("x").identity.spiffe_id) == "spiffe://corp.internal/x"


def test_serve_gives_handler_the_checked_peer(mesh: TestMesh) -> None:
    seen: list[ServedRequest] = []

    def handler(request: ServedRequest) -> tuple[int, dict[str, str], str]:
        seen.append(request)
        return 201, {"X-Answer": "yes"}, "créé"

    with mesh.serve(handler, workload="api", allow=["web", "batch"]) as url:
        assert url.startswith("https://127.0.0.1:")
        session = mesh.client_session("web", expect="api")
        reply = session.put(f"{url}/items/7?x=1", data=b"payload", headers={"X-Trace": "t"})
    assert (reply.status_code, reply.headers["X-Answer"], reply.text) == (201, "yes", "créé")
    (request,) = seen
    assert (request.method, request.path, request.body) == ("PUT", "/items/7?x=1", b"payload")
    assert request.peer == mesh.spiffe_id("web")
    assert request.header("x-trace") == "t"
    assert request.peer_certificate == mesh.workload("web").identity.certificate


def test_peer_not_in_allow_refused_at_handshake(mesh: TestMesh) -> None:
    called = threading.Event()

    def handler(_request: ServedRequest) -> tuple[int, dict[str, str], bytes]:
        called.set()
        return 200, {}, b""

    with (
        capture_audit() as log,
        mesh.serve(handler, workload="api", allow="web") as url,
    ):
        with pytest.raises(requests.exceptions.ConnectionError):
            mesh.client_session("batch", expect="api").get(url, timeout=5)
        # The server is still serving the allowed peer after a refusal.
        assert mesh.client_session("web", expect="api").get(url, timeout=5).status_code == 200
    assert called.is_set()
    log.assert_emitted(outcome="denied", reason="tls.peer_not_authorized")


def test_client_refuses_unexpected_server(mesh: TestMesh) -> None:
    with mesh.serve(ok, workload="impostor") as url, pytest.raises(PeerNotAuthorized):
        mesh.client_session("web", expect="api").get(url, timeout=5)


def test_server_of_another_mesh_untrusted(mesh: TestMesh) -> None:
    with (
        TestMesh() as other,
        other.serve(ok, workload="api") as url,
        pytest.raises(PeerCertificateUntrusted),
    ):
        mesh.client_session("web", expect="api").get(url, timeout=5)


def test_default_allow_is_the_trust_domain(mesh: TestMesh) -> None:
    with mesh.serve(ok, workload="api") as url:
        assert mesh.client_session("anyone", expect="api").get(url, timeout=5).text == "ok"


def test_allow_takes_a_matcher(mesh: TestMesh) -> None:
    with mesh.serve(ok, workload="api", allow=allow_path_prefix("/ns/prod")) as url:
        assert mesh.client_session("ns/prod/web", expect="api").get(url, timeout=5).ok
        with pytest.raises(requests.exceptions.ConnectionError):
            mesh.client_session("ns/dev/web", expect="api").get(url, timeout=5)


def test_bad_peers_argument_refused(mesh: TestMesh) -> None:
    with pytest.raises(ConfigError):
        mesh.server_context("api", allow=42)  # type: ignore[arg-type]


def test_stalled_client_does_not_block_other_connections(mesh: TestMesh) -> None:
    with mesh.serve(ok, workload="api") as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)):  # never sends a ClientHello
            reply = mesh.client_session("web", expect="api").get(url, timeout=5)
            assert reply.text == "ok"


def _plain_tls_request(port: int, context: ssl.SSLContext) -> bytes:
    """Send a request with a TLS client that has no certificate; return the answer (or b"")."""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return tls.recv(1024)
    except OSError:
        return b""


def test_plain_tls_client_without_certificate_refused(mesh: TestMesh) -> None:
    plain = ssl.create_default_context(cadata=mesh.ca.bundle.to_pem().decode())
    plain.check_hostname = False
    with mesh.serve(ok, workload="api") as url:
        assert _plain_tls_request(int(url.rsplit(":", 1)[1]), plain) == b""


def test_handler_exception_answers_500_and_is_reraised(mesh: TestMesh) -> None:
    def broken(_request: ServedRequest) -> tuple[int, dict[str, str], bytes]:
        raise LookupError("handler bug")

    # The error surfaces when serve() exits, so the block holds the whole call.
    with (  # noqa: PT012  raised at block exit
        pytest.raises(LookupError, match="handler bug"),
        mesh.serve(broken, workload="api") as url,
    ):
        reply = mesh.client_session("web", expect="api").get(url, timeout=5)
        assert reply.status_code == 500
        assert "handler bug" not in reply.text


@pytest.mark.parametrize(
    "answer",
    [None, (200, {}), ("200", {}, b""), (42, {}, b""), (200, [], b""), (200, {}, 3)],
    ids=["none", "pair", "str-status", "low-status", "list-headers", "int-body"],
)
def test_malformed_handler_answer_is_reported(mesh: TestMesh, answer: object) -> None:
    with (
        pytest.raises(TypeError, match="serve\\(\\) handler returns"),
        mesh.serve(lambda _r: answer, workload="api") as url,  # type: ignore[arg-type,return-value]
    ):
        assert mesh.client_session("web", expect="api").get(url, timeout=5).status_code == 500


def test_block_error_wins_over_handler_error(mesh: TestMesh) -> None:
    def broken(_request: ServedRequest) -> tuple[int, dict[str, str], bytes]:
        raise LookupError("handler bug")

    with (  # noqa: PT012  the block's own error must win over the handler's
        pytest.raises(KeyError),
        mesh.serve(broken, workload="api") as url,
    ):
        mesh.client_session("web", expect="api").get(url, timeout=5)
        raise KeyError("test's own failure")


def test_oversized_or_negative_length_refused(mesh: TestMesh) -> None:
    with mesh.serve(ok, workload="api") as url:
        session = mesh.client_session("web", expect="api")
        reply = session.post(url, headers={"Content-Length": "-1"}, data=b"", timeout=5)
        assert reply.status_code == 400


def test_served_request_repr_hides_bearer_token_and_body(mesh: TestMesh) -> None:
    seen: list[ServedRequest] = []

    def handler(request: ServedRequest) -> tuple[int, dict[str, str], bytes]:
        seen.append(request)
        return 200, {}, b""

    token = mesh.token("alice", "api")
    with mesh.serve(handler, workload="api") as url:
        mesh.client_session("web", expect="api").post(
            url, data=b"card=4111111111111111", headers={"Authorization": f"Bearer {token}"}
        )
    (request,) = seen
    assert request.bearer == token
    assert token not in repr(request)
    assert "4111111111111111" not in repr(request)
    assert "[REDACTED]" in repr(request)


@settings(max_examples=40)
@given(st.lists(st.from_regex(r"[a-zA-Z0-9._-]{1,12}", fullmatch=True), min_size=1, max_size=4))
def test_shorthand_round_trips_to_the_full_id(segments: list[str]) -> None:
    mesh = TestMesh()
    path = "/".join(segments)
    if any(s in {".", ".."} for s in segments):
        with pytest.raises(InvalidSpiffeId):
            mesh.spiffe_id(path)
        return
    sid = mesh.spiffe_id(path)
    assert str(sid) == f"spiffe://test.example/{path}"
    assert mesh.spiffe_id(str(sid)) == sid == mesh.spiffe_id("/" + path)


def test_chunked_body_refused_rather_than_misread(mesh: TestMesh) -> None:
    with mesh.serve(ok, workload="api") as url:
        session = mesh.client_session("web", expect="api")
        reply = session.post(url, data=iter([b"part1", b"part2"]), timeout=5)
    assert reply.status_code == 411


def test_handler_runs_as_the_peer_with_correlation() -> None:
    from meshsec import correlation
    from meshsec.context import current_security_context

    seen: dict[str, str | None] = {}

    def handler(_request: ServedRequest) -> tuple[int, dict[str, str], bytes]:
        seen["peer"] = current_security_context().peer_id
        seen["correlation"] = correlation.current_id()
        return 200, {}, b""

    with TestMesh() as mesh, mesh.serve(handler, workload="api") as url:
        session = mesh.client_session("web", expect="api")
        with correlation.scope() as ctx:
            session.get(url, headers=correlation.inject({}), timeout=5)
    assert seen == {"peer": "spiffe://test.example/web", "correlation": ctx.correlation_id}


def test_token_round_trip_with_binding(mesh: TestMesh) -> None:
    web, api = mesh.workload("web"), mesh.workload("api")
    token = mesh.token(web, api, scopes=["read"], bind_to=web, ttl=timedelta(minutes=1))
    claims = mesh.verifier(api).verify(
        token, scopes="read", peer_certificate=web.identity.certificate
    )
    assert claims.subject == "spiffe://test.example/web"
    with pytest.raises(BindingMismatch):
        mesh.verifier(api).verify(token, peer_certificate=api.identity.certificate)
    with pytest.raises(WrongAudience):
        mesh.verifier("other").verify(token, peer_certificate=web.identity.certificate)


def test_plain_string_subjects_are_literal(mesh: TestMesh) -> None:
    token = mesh.token("alice", "reports-api")
    assert mesh.verifier("reports-api").verify(token).subject == "alice"


def test_frozen_clock_expires_tokens() -> None:
    clock = FrozenClock()
    with TestMesh(clock=clock) as mesh:
        token = mesh.token("alice", "api")
        clock.advance(timedelta(hours=1))
        with pytest.raises(TokenExpired):
            mesh.verifier("api").verify(token)


def test_token_from_another_mesh_refused(mesh: TestMesh) -> None:
    with TestMesh() as other:
        token = other.token("alice", "api")
    with pytest.raises(TokenError):
        mesh.verifier("api").verify(token)


def test_keys_publish_public_jwks_only(mesh: TestMesh) -> None:
    jwks = mesh.keys.to_jwks()
    assert jwks["keys"]
    assert all("d" not in key for key in jwks["keys"])
    assert mesh.issuer.issuer == mesh.issuer_name == "https://issuer.test.example"


def test_keyring_is_real_and_stable(mesh: TestMesh) -> None:
    assert mesh.keyring is mesh.keyring
    cipher = FieldCipher(mesh.keyring)
    envelope = cipher.encrypt("4111 1111 1111 1111", field="card", context={"id": "1"})
    assert cipher.decrypt(envelope, field="card", context={"id": "1"}) == "4111 1111 1111 1111"


def test_close_is_idempotent_and_final() -> None:
    mesh = TestMesh()
    session = mesh.client_session("web", expect="api")
    with mesh.serve(ok, workload="api") as url:
        session.get(url, timeout=5)
        pools = session.get_adapter(url).poolmanager.pools  # type: ignore[attr-defined]
        assert len(pools) == 1
        mesh.close()
        mesh.close()
        assert len(pools) == 0
    with pytest.raises(ConfigError):
        mesh.workload("late")


def test_repr_and_errors_hold_no_key_material(mesh: TestMesh) -> None:
    web = mesh.workload("web")
    key_pem = web.identity.private_key_pem().reveal().decode()
    body = "".join(key_pem.splitlines()[1:-1])
    assert body[:40] not in repr(mesh)
    assert "test.example" in repr(mesh)


def test_not_collected_by_pytest() -> None:
    assert TestMesh.__test__ is False
