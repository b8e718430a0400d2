"""Session resumption must not outlive trust (resumed handshakes skip verification)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meshsec.clock import FrozenClock
from meshsec.identity import StaticIdentitySource
from meshsec.mtls import PeerCertificateExpired, allow_id, client_context, server_context
from tests.mtls.conftest import CLIENT, SERVER
from tests.mtls.peers import EchoServer, auth_events, meshsec_exchange


def test_sessions_really_resume_and_peer_certificate_is_rechecked(server_source, client_source):
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        _, first, session = meshsec_exchange(client, server.port)
        reply, second, _ = meshsec_exchange(client, server.port, session=session)
    assert (first, second) == (False, True)
    assert reply == f"echo:{CLIENT}:ping\n".encode()
    # The server checked (and saw) the client's SPIFFE ID on the resumed connection too.
    assert server.resumed == [False, True]
    assert [str(p) for p in server.peers] == [CLIENT, CLIENT]


def test_client_context_resumes_on_its_own(server_source, client_source):
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        results = [meshsec_exchange(client, server.port)[1] for _ in range(3)]
    assert results == [False, True, True]


def test_resumed_client_with_since_expired_certificate_is_refused(ca, server_source, events):
    client_identity = ca.issue(CLIENT, ttl=timedelta(minutes=10))
    client = client_context(
        StaticIdentitySource(client_identity, ca.bundle), expect=allow_id(SERVER)
    )
    clock = FrozenClock()
    with EchoServer(server_context(server_source, clock=clock)) as server:
        _, _, session = meshsec_exchange(client, server.port)
        clock.advance(timedelta(minutes=11))  # the client's certificate is now expired
        try:
            reply, _, _ = meshsec_exchange(client, server.port, session=session)
        except OSError:  # TLS 1.3: the refusal shows up at the first read
            reply = b""
    assert reply == b""
    assert len(server.errors) == 1
    assert isinstance(server.errors[0], PeerCertificateExpired)
    assert server.resumed == [False]
    # The refused connection really was a resumed one, and it was audited once.
    assert [(e.reason, e.attributes["resumed"]) for e in auth_events(events)] == [
        ("tls.peer_certificate_expired", "true")
    ]


def test_resumed_server_with_since_expired_certificate_is_refused(ca, client_source):
    server_identity = ca.issue(SERVER, ttl=timedelta(minutes=10))
    server_ctx = server_context(StaticIdentitySource(server_identity, ca.bundle))
    clock = FrozenClock()
    client = client_context(client_source, expect=allow_id(SERVER), clock=clock)
    with EchoServer(server_ctx) as server:
        _, _, session = meshsec_exchange(client, server.port)
        clock.advance(timedelta(minutes=11))
        with pytest.raises(PeerCertificateExpired):
            meshsec_exchange(client, server.port, session=session)


def test_rotation_ends_resumption_of_old_sessions(ca, server_source, client_source):
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        _, _, session = meshsec_exchange(client, server.port)
        server_source.update(ca.issue(SERVER))
        _, resumed, _ = meshsec_exchange(client, server.port, session=session)
    assert resumed is False
    assert server.errors == []


def test_client_rotation_drops_sessions_of_the_old_context(ca, server_source, client_source):
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        _, _, session = meshsec_exchange(client, server.port)
        client_source.update(ca.issue(CLIENT))
        reply, resumed, _ = meshsec_exchange(client, server.port, session=session)
    assert resumed is False
    assert reply.startswith(b"echo:")


def test_resumption_can_be_turned_off(server_source, client_source):
    client = client_context(client_source, expect=allow_id(SERVER), resume_sessions=False)
    with EchoServer(server_context(server_source)) as server:
        results = [meshsec_exchange(client, server.port)[1] for _ in range(2)]
    assert results == [False, False]


def test_failed_rotation_keeps_the_last_good_context(
    ca, server_source, client_source, monkeypatch, events
):
    import ssl

    from meshsec.mtls import _context

    server_ctx = server_context(server_source)
    client = client_context(client_source, expect=allow_id(SERVER))
    served_before = server_source.identity

    def broken(*_args, **_kwargs):
        raise ssl.SSLError("PEM lib")

    monkeypatch.setattr(_context, "load_identity", broken)
    server_source.update(ca.issue(SERVER))  # the rebuild fails
    monkeypatch.undo()
    with EchoServer(server_ctx) as server:
        reply, _, _ = meshsec_exchange(client, server.port)
    assert reply.startswith(b"echo:")
    assert server_ctx._meshsec_rotation.current()._meshsec_policy is not None
    failures = [e for e in events if e.action == "mtls.rotate"]
    assert [(e.reason, str(e.category.value)) for e in failures] == [
        ("tls.rotation_failed", "certificate")
    ]
    assert served_before is not server_source.identity


def test_tls12_resumption_is_rechecked_too(ca, server_source):
    import ssl

    identity = ca.issue(CLIENT, ttl=timedelta(minutes=10))
    client = client_context(StaticIdentitySource(identity, ca.bundle), expect=allow_id(SERVER))
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    clock = FrozenClock()
    with EchoServer(server_context(server_source, clock=clock)) as server:
        _, first, session = meshsec_exchange(client, server.port)
        _, second, session = meshsec_exchange(client, server.port, session=session)
        clock.advance(timedelta(minutes=11))
        try:
            reply, _, _ = meshsec_exchange(client, server.port, session=session)
        except OSError:
            reply = b""
    assert (first, second) == (False, True)
    assert server.resumed == [False, True]
    assert reply == b""
    assert [type(e) for e in server.errors] == [PeerCertificateExpired]
