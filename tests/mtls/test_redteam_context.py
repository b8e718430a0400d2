"""Red-team attacks on the mTLS contexts: context swapping, validity boundaries, peer_id."""

from __future__ import annotations

import socket
import ssl
from datetime import timedelta
from pathlib import Path

import pytest

from meshsec.clock import FrozenClock
from meshsec.identity import CertificateAuthority, StaticIdentitySource
from meshsec.mtls import (
    HandshakeFailed,
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
    PeerNotAuthorized,
    allow_id,
    allow_path_prefix,
    allow_trust_domain,
    authorize_peer,
    client_context,
    peer_id,
    server_context,
)
from meshsec.mtls._peer import LeafFacts, check_svid
from tests.identity.certs import write_pem
from tests.mtls.conftest import CLIENT, SERVER, TD
from tests.mtls.peers import EchoServer, auth_events, meshsec_exchange


def _plain_server_context(
    server_source: StaticIdentitySource, trusted: CertificateAuthority, tmp_path: Path
) -> ssl.SSLContext:
    """A hand-made context that trusts ``trusted`` (not the meshsec bundle)."""
    identity = server_source.identity
    cert, key = write_pem(tmp_path, "plain", identity.certificate, identity.private_key)
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    plain.load_cert_chain(cert, key)
    plain.load_verify_locations(cadata=trusted.bundle.to_pem().decode("ascii"))
    plain.verify_mode = ssl.CERT_OPTIONAL
    return plain


def test_sni_callback_swap_to_foreign_context_cannot_admit_rogue_ca_client(
    ca, other_ca, server_source, tmp_path, events
):
    # The swapped-in context verifies the chain against its own store (the
    # rogue CA): the peer check must notice it no longer runs on a meshsec context.
    server_ctx = server_context(server_source)
    plain = _plain_server_context(server_source, other_ca, tmp_path)

    def swap(conn: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        conn.context = plain

    server_ctx.sni_callback = swap
    rogue = StaticIdentitySource(other_ca.issue(f"spiffe://{TD}/ns/prod/sa/admin"), ca.bundle)
    client = client_context(rogue, expect=allow_trust_domain(TD))
    with EchoServer(server_ctx) as server:
        try:
            reply, _, _ = meshsec_exchange(client, server.port)
        except OSError:
            reply = b""
    assert reply == b""
    assert server.peers == []
    assert server.received == []
    assert [type(e) for e in server.errors] == [HandshakeFailed]
    assert [e.reason for e in auth_events(events)] == ["tls.handshake_failed"]


def test_sni_callback_swap_to_another_meshsec_context_uses_its_policy(
    ca, server_source, client_source
):
    # Handing the connection the current meshsec context (the documented use)
    # still works, and the policy of the context in use decides.
    first = server_context(server_source)
    narrow = server_context(server_source, allow=allow_id(SERVER))  # not the client

    def swap(conn: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        conn.context = narrow

    first.sni_callback = swap
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(first) as server:
        try:
            reply, _, _ = meshsec_exchange(client, server.port)
        except OSError:
            reply = b""
    assert reply == b""
    assert [e.code for e in server.errors] == ["tls.peer_not_authorized"]


def test_resumed_peer_at_exact_not_after_is_expired_like_openssl(ca, server_source):
    # OpenSSL treats notAfter itself as expired (X509_cmp_time <= now), and so
    # does meshsec.identity; a resumed connection must not get one more second.
    identity = ca.issue(CLIENT, ttl=timedelta(minutes=10))
    client = client_context(StaticIdentitySource(identity, ca.bundle), expect=allow_id(SERVER))
    clock = FrozenClock()
    with EchoServer(server_context(server_source, clock=clock)) as server:
        _, _, session = meshsec_exchange(client, server.port)
        clock.set(identity.not_after.timestamp())
        try:
            reply, _, _ = meshsec_exchange(client, server.port, session=session)
        except OSError:
            reply = b""
    assert reply == b""
    assert [type(e) for e in server.errors] == [PeerCertificateExpired]


def test_validity_boundaries_are_half_open(ca):
    identity = ca.issue(CLIENT)
    cert = identity.certificate
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    facts = LeafFacts(identity.spiffe_id, before.timestamp(), after.timestamp())
    facts.check_validity(before.timestamp())  # the first second is valid
    facts.check_validity(after.timestamp() - 1)
    with pytest.raises(PeerCertificateExpired):
        facts.check_validity(after.timestamp())
    with pytest.raises(PeerCertificateNotYetValid):
        facts.check_validity(before.timestamp() - 1)
    assert check_svid(cert, trust_domain=TD, now=before) == identity.spiffe_id
    with pytest.raises(PeerCertificateExpired):
        check_svid(cert, trust_domain=TD, now=after)


def test_peer_id_on_plain_socket_is_a_typed_error():
    left, right = socket.socketpair()
    with left, right, pytest.raises(PeerCertificateInvalid):
        peer_id(left)


def test_peer_id_before_handshake_is_a_typed_error(client_source):
    ctx = client_context(client_source, expect=allow_id(SERVER))
    raw = socket.socket()
    tls = ctx.wrap_socket(raw, do_handshake_on_connect=False)
    with tls, pytest.raises(PeerCertificateInvalid):
        peer_id(tls)


def test_authorize_peer_on_plain_socket_is_typed_and_audited(events):
    left, right = socket.socketpair()
    with left, right, pytest.raises(PeerCertificateInvalid):
        authorize_peer(left, allow_trust_domain(TD))
    assert [e.reason for e in auth_events(events)] == ["tls.peer_certificate_invalid"]


@pytest.mark.parametrize("value", [None, 42, "spiffe://example.org/a", object()])
def test_peer_id_of_non_connection_is_type_error(value):
    with pytest.raises(TypeError):
        peer_id(value)


def test_verify_mode_mutation_after_creation_is_refused(server_source):
    ctx = server_context(server_source)
    with pytest.raises(ValueError, match="requires"):
        ctx.verify_mode = ssl.CERT_NONE
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_verify_mode_forced_through_the_base_slot_refuses_handshakes(
    server_source, client_source, events
):
    ctx = server_context(server_source)
    vars(ssl.SSLContext)["verify_mode"].__set__(ctx, ssl.CERT_NONE)
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(ctx) as server:
        try:
            reply, _, _ = meshsec_exchange(client, server.port)
        except OSError:
            reply = b""
    assert reply == b""
    assert server.received == []
    assert [type(e) for e in server.errors] == [HandshakeFailed]


def test_refused_client_application_data_never_reaches_handler(ca, other_ca, server_source):
    # A TLS 1.3 client believes the handshake succeeded and writes at once.
    rogue = StaticIdentitySource(other_ca.issue(CLIENT), ca.bundle)
    client = client_context(rogue, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        try:
            reply, _, _ = meshsec_exchange(client, server.port, b"secret-request\n")
        except OSError:
            reply = b""
    assert reply == b""
    assert server.received == []
    assert server.peers == []


def test_client_audit_event_carries_correlation_id(ca, server_source, events):
    from meshsec import correlation

    client = client_context(
        StaticIdentitySource(ca.issue(CLIENT), ca.bundle), expect=allow_id(CLIENT)
    )
    context = correlation.CorrelationContext.new()
    with (
        EchoServer(server_context(server_source)) as server,
        correlation.bind(context),
        pytest.raises(PeerNotAuthorized),
    ):
        meshsec_exchange(client, server.port)
    refused = [e for e in auth_events(events) if e.attributes.get("role") == "client"]
    assert len(refused) == 1
    assert refused[0].reason == "tls.peer_not_authorized"
    assert refused[0].correlation_id == context.correlation_id
    assert "PRIVATE" not in repr(refused[0])


def test_sslkeylogfile_environment_does_not_log_tls_secrets(
    server_source, client_source, tmp_path, monkeypatch
):
    # ssl.create_default_context honours SSLKEYLOGFILE; meshsec contexts must not.
    keylog = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        reply, _, _ = meshsec_exchange(client, server.port)
    assert reply.startswith(b"echo:")
    assert not keylog.exists() or keylog.read_bytes() == b""


def test_unforeseen_error_in_the_peer_check_fails_closed(
    server_source, client_source, monkeypatch, events
):
    from meshsec.mtls import _policy

    def explode(self, conn):
        raise KeyError("bug")

    server_ctx = server_context(server_source)
    monkeypatch.setattr(_policy.PeerPolicy, "authorize", explode)
    client = client_context(client_source, expect=allow_id(SERVER))
    with pytest.raises(PeerCertificateInvalid), EchoServer(server_ctx) as server:
        meshsec_exchange(client, server.port)
    assert server.received == []
    assert all(isinstance(e, PeerCertificateInvalid) for e in server.errors)
    assert {e.reason for e in auth_events(events)} == {"tls.peer_certificate_invalid"}


def _pump(client: ssl.SSLObject, server: ssl.SSLObject, bios) -> None:
    """Run both halves of a handshake in memory until both are done."""
    c_in, c_out, s_in, s_out = bios
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, obj in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


def test_server_judges_a_client_by_the_bundle_current_at_client_hello(ca, server_source):
    # Rotation race: the server accepted (and picked its context) under the old
    # bundle; the rotation (new root everywhere, then leaves from it) landed
    # before the client's ClientHello. The client's new leaf must be accepted.
    new_ca = CertificateAuthority.create(TD)
    both = ca.bundle.merge(new_ca.bundle)
    server_ctx = server_context(server_source)
    bios = (ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO())
    server = server_ctx.wrap_bio(bios[2], bios[3], server_side=True)  # old context
    server_source.update(new_ca.issue(SERVER), both)
    client_source = StaticIdentitySource(new_ca.issue(CLIENT), both)
    client_ctx = client_context(client_source, expect=allow_id(SERVER))
    client = client_ctx.wrap_bio(bios[0], bios[1])
    _pump(client, server, bios)
    assert str(peer_id(server)) == CLIENT
    assert str(peer_id(client)) == SERVER


def _send_with(tls: ssl.SSLSocket, method: str, payload: Path) -> None:
    if method == "sendfile":
        with payload.open("rb") as handle:
            tls.sendfile(handle)
    else:
        getattr(tls, method)(payload.read_bytes())


@pytest.mark.parametrize("method", ["sendall", "send", "write", "sendfile"])
def test_lazy_handshake_client_cannot_leak_data_to_unexpected_server(
    server_source, client_source, tmp_path, method
):
    # With do_handshake_on_connect=False OpenSSL would finish the handshake
    # inside the first write; the SPIFFE check must still come first.
    client = client_context(client_source, expect=allow_id(CLIENT))  # not the server
    payload = tmp_path / "payload"
    payload.write_bytes(b"secret\n")
    with EchoServer(server_context(server_source)) as server:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        tls = client.wrap_socket(raw, do_handshake_on_connect=False)
        with tls, pytest.raises(PeerNotAuthorized):
            _send_with(tls, method, payload)
    assert b"secret" not in b"".join(server.received)  # at most the EOF of the close


class _LookAlike:
    trust_domain = TD
    path = "/ns/prod/sa/server"
    segments = ("ns", "prod", "sa", "server")

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


@pytest.mark.parametrize(
    "matcher",
    [
        allow_id(SERVER),
        allow_trust_domain(TD),
        allow_path_prefix("/ns/prod"),
    ],
)
@pytest.mark.parametrize("value", [SERVER, SERVER.encode(), None, 0, _LookAlike()])
def test_matchers_refuse_anything_but_a_spiffe_id(matcher, value):
    assert matcher(value) is False
