"""Tokens speak the identity layer's types: SPIFFE IDs, workload identities, TLS peers."""

from __future__ import annotations

import socket
import threading

import pytest

from meshsec.errors import ConfigError
from meshsec.identity import CertificateAuthority, SpiffeId, StaticIdentitySource
from meshsec.mtls import allow_id, client_context, server_context
from meshsec.tokens import BindingMismatch, KeySet, TokenIssuer, TokenVerifier

ORDERS = SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders")
PAYMENTS = SpiffeId.parse("spiffe://example.org/ns/prod/sa/payments")
WEB = SpiffeId.parse("spiffe://example.org/ns/prod/sa/web")
AUTH = SpiffeId.parse("spiffe://example.org/ns/prod/sa/auth")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("example.org")


def test_spiffe_ids_stand_for_subject_audience_issuer_and_actor(ca):
    keys = KeySet.generate("EdDSA")
    issuer = TokenIssuer(issuer=AUTH, keys=keys)
    token = issuer.issue(WEB, ORDERS, scopes=["orders:create", "payments:charge"])
    claims = TokenVerifier(issuer=AUTH, audience=ORDERS, keys=keys).verify(token)
    assert claims.subject == str(WEB)
    assert claims.issuer == str(AUTH)
    onward = issuer.exchange(token, audience=[PAYMENTS], scopes=["payments:charge"], actor=ORDERS)
    delegated = TokenVerifier(issuer=AUTH, audience=PAYMENTS, keys=keys).verify(onward)
    assert delegated.actor == str(ORDERS)


def test_a_workload_identity_binds_and_a_different_one_is_refused(ca):
    keys = KeySet.generate("EdDSA")
    orders, other = ca.issue(ORDERS), ca.issue(ORDERS)
    token = TokenIssuer(issuer=AUTH, keys=keys).issue(WEB, PAYMENTS, bind_to=orders)
    verifier = TokenVerifier(issuer=AUTH, audience=PAYMENTS, keys=keys)
    assert verifier.verify(token, peer_certificate=orders).subject == str(WEB)
    with pytest.raises(BindingMismatch):
        verifier.verify(token, peer_certificate=other)


def test_the_peer_of_a_live_mtls_connection_checks_the_binding(ca):
    """RFC 8705 on a real loopback mTLS connection: the server passes its socket."""
    keys = KeySet.generate("EdDSA")
    client_identity = ca.issue(ORDERS)
    token = TokenIssuer(issuer=AUTH, keys=keys).issue(WEB, PAYMENTS, bind_to=client_identity)
    verifier = TokenVerifier(issuer=AUTH, audience=PAYMENTS, keys=keys)
    server = server_context(StaticIdentitySource(ca.issue(PAYMENTS), ca.bundle))
    client = client_context(
        StaticIdentitySource(client_identity, ca.bundle), expect=allow_id(PAYMENTS)
    )
    results: list[str] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            raw, _ = listener.accept()
            with server.wrap_socket(raw, server_side=True) as tls:
                presented = tls.recv(4096).decode()
                results.append(verifier.verify(presented, peer_certificate=tls).subject)
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve)
        thread.start()
        with (
            socket.create_connection(listener.getsockname(), timeout=10) as raw,
            client.wrap_socket(raw) as tls,
        ):
            tls.sendall(token.encode())
            assert tls.recv(16) == b"ok"
        thread.join(10)
    assert results == [str(WEB)]


def test_a_plain_socket_is_not_a_certificate():
    keys = KeySet.generate("EdDSA")
    with socket.socket() as plain, pytest.raises(ConfigError):
        TokenIssuer(issuer=AUTH, keys=keys).issue(WEB, PAYMENTS, bind_to=plain)  # type: ignore[arg-type]


@pytest.mark.parametrize("audience", [{"a": 1}, {"orders"}, 42, b"orders"])
def test_audiences_other_than_strings_ids_or_lists_are_refused(audience):
    keys = KeySet.generate("EdDSA")
    with pytest.raises(ConfigError):
        TokenIssuer(issuer=AUTH, keys=keys).issue(WEB, audience)
