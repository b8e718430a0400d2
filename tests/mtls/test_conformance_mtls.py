"""Conformance with issue 6: mTLS names called exactly as the issue writes them."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError, TLSError
from meshsec.identity import CertificateAuthority, SpiffeId, StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import (
    InvalidXfcc,
    PeerNotAuthorized,
    allow_any_of,
    allow_id,
    allow_path_prefix,
    allow_trust_domain,
    authorize_peer,
    client_context,
    peer_id,
    server_context,
    xfcc,
)
from tests.mtls.conftest import CLIENT, SERVER
from tests.mtls.peers import EchoServer, HttpsServer, meshsec_exchange

# -- contexts --------------------------------------------------------------------


def test_server_context_defaults(server_source):
    ctx = server_context(server_source)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED  # client certificates required
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_RENEGOTIATION


def test_server_context_min_version_keyword(server_source):
    ctx = server_context(server_source, min_version=ssl.TLSVersion.TLSv1_3)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3


def test_client_context_with_expect_keyword_trusts_only_the_bundle(client_source, ca):
    ctx = client_context(client_source, expect=allow_id(SERVER))
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    # Never the system store: the only anchor is the CA's root.
    assert len(ctx.get_ca_certs()) == len(ca.bundle) == 1


@pytest.mark.parametrize("side", ["server", "client"])
def test_tls12_suites_are_ecdhe_with_aead_only(server_source, client_source, side):
    if side == "server":
        ctx = server_context(server_source)
    else:
        ctx = client_context(client_source, expect=allow_id(SERVER))
    for suite in ctx.get_ciphers():
        if suite["protocol"] == "TLSv1.3":
            continue
        assert suite["kea"] == "kx-ecdhe", suite["name"]
        assert suite["aead"], suite["name"]


# -- matchers ---------------------------------------------------------------------

SID = SpiffeId.parse(SERVER)


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (allow_id(SERVER), True),
        (allow_id(SpiffeId.parse(SERVER)), True),
        (allow_id(CLIENT), False),
        (allow_id(CLIENT, SERVER), True),
        (allow_trust_domain("example.org"), True),
        (allow_trust_domain("other.org"), False),
        (allow_path_prefix("/ns/prod"), True),
        (allow_path_prefix("/ns/prod/sa/serv"), False),  # whole segments only
        (allow_path_prefix("/ns/dev"), False),
        (allow_any_of(allow_id(CLIENT), allow_path_prefix("/ns/prod")), True),
        (allow_any_of(allow_id(CLIENT), allow_trust_domain("other.org")), False),
    ],
)
def test_matchers_as_written(matcher, expected):
    assert matcher(SID) is expected


# -- real handshakes: peer_id, authorize_peer, expect= --------------------------------


def test_peer_id_on_socket_and_authorize_peer_with_any_callable(server_source, client_source):
    with EchoServer(server_context(server_source)) as server:
        ctx = client_context(client_source, expect=lambda peer: peer.path.endswith("/server"))
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert peer_id(tls) == SID
            assert authorize_peer(tls, allow_id(SERVER)) == SID
            with pytest.raises(PeerNotAuthorized) as info:
                authorize_peer(tls, allow_id(CLIENT))
            tls.sendall(b"ping\n")
            assert tls.recv(1024).startswith(b"echo:" + CLIENT.encode())
    assert issubclass(PeerNotAuthorized, TLSError)
    assert info.value.code == "tls.peer_not_authorized"
    assert server.peers == [SpiffeId.parse(CLIENT)]


def test_peer_id_on_ssl_object(server_source, client_source):
    with EchoServer(server_context(server_source)) as server:
        ctx = client_context(client_source, expect=allow_id(SERVER))
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    raw.sendall(outgoing.read())
                    incoming.write(raw.recv(65536))
            raw.sendall(outgoing.read())
            assert peer_id(obj) == SID
            obj.write(b"ping\n")
            raw.sendall(outgoing.read())


def test_client_with_failing_expect_never_sends_application_data(server_source, client_source):
    with EchoServer(server_context(server_source)) as server:
        ctx = client_context(client_source, expect=allow_id(CLIENT))
        with pytest.raises(PeerNotAuthorized):
            meshsec_exchange(ctx, server.port, b"secret-payload\n")
    assert b"secret-payload\n" not in server.received


# -- mtls_session -------------------------------------------------------------------


def test_mtls_session_as_written(server_source, client_source):
    with HttpsServer(server_context(server_source)) as server:
        session = mtls_session(client_source, expect=allow_id(SERVER))
        assert isinstance(session, requests.Session)
        with session:
            reply = session.get(server.url, timeout=10)
            status, text = reply.status_code, reply.text
            del reply  # a live Response pins its keep-alive socket past session.close()
            assert status == 200
            assert text.startswith(CLIENT + " ")
            with (
                mtls_session(client_source, expect=allow_id(CLIENT)) as wrong,
                pytest.raises(PeerNotAuthorized),
            ):
                wrong.get(server.url, timeout=10)
    assert server.requests == 1


def test_mtls_session_picks_up_rotated_identity(ca, server_source):
    source = StaticIdentitySource(ca.issue(CLIENT), ca.bundle)
    with (
        HttpsServer(server_context(server_source)) as server,
        mtls_session(source, expect=allow_id(SERVER)) as session,
    ):
        first = session.get(server.url, timeout=10).text.split()[1]
        new = ca.issue(CLIENT)
        source.update(new)
        session.close()  # new connections only: drop the pooled one
        second = session.get(server.url, timeout=10).text.split()[1]
    assert int(first, 16) != int(second, 16)
    assert int(second, 16) == new.serial_number


# -- XFCC -------------------------------------------------------------------------------

HEADER = (
    'By=spiffe://example.org/ns/edge/sa/proxy;Hash=abc123;Cert="-----BEGIN%20CERT";'
    'Chain="-----BEGIN%20CHAIN";Subject="CN=a \\"quoted\\" name";'
    "URI=spiffe://example.org/ns/prod/sa/client;DNS=a.example;DNS=b.example"
)


def test_xfcc_parse_reads_every_key():
    (element,) = xfcc.parse_xfcc(HEADER)
    assert element.by == "spiffe://example.org/ns/edge/sa/proxy"
    assert element.hash == "abc123"
    assert element.cert == "-----BEGIN%20CERT"
    assert element.chain == "-----BEGIN%20CHAIN"
    assert element.subject == 'CN=a "quoted" name'
    assert element.uri == CLIENT
    assert element.dns == ("a.example", "b.example")
    assert xfcc.parse(HEADER) == (element,)
    assert xfcc.parse(xfcc.build([element])) == (element,)


def test_xfcc_multiple_elements_and_malformed_input():
    two = xfcc.parse_xfcc("By=spiffe://a.org/x;URI=spiffe://a.org/y,URI=spiffe://a.org/z")
    assert [e.uri for e in two] == ["spiffe://a.org/y", "spiffe://a.org/z"]
    for bad in ['URI="unterminated', "URI", "Nope=1", ""]:
        with pytest.raises(InvalidXfcc):
            xfcc.parse_xfcc(bad)


def test_peer_from_xfcc_keywords_as_written():
    proxy = SpiffeId.parse("spiffe://example.org/ns/edge/sa/proxy")
    header = f"By={proxy};URI={CLIENT}"
    got = xfcc.peer_from_xfcc(header, trusted_proxy=allow_id(proxy), proxy_peer=proxy)
    assert got == SpiffeId.parse(CLIENT)
    with pytest.raises(PeerNotAuthorized):
        xfcc.peer_from_xfcc(header, trusted_proxy=allow_id(CLIENT), proxy_peer=proxy)
    assert InvalidXfcc.code == "tls.invalid_xfcc"
    assert issubclass(InvalidXfcc, TLSError)


_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
_element = st.builds(
    xfcc.XfccElement,
    by=st.none() | _value,
    hash=st.none() | _value,
    cert=st.none() | _value,
    chain=st.none() | _value,
    subject=st.none() | _value,
    uri=_value,
    dns=st.lists(_value, max_size=3),
)


@given(st.lists(_element, min_size=1, max_size=4))
def test_xfcc_build_then_parse_round_trips(elements):
    assert xfcc.parse(xfcc.build(elements)) == tuple(elements)


@given(st.text(max_size=200))
def test_xfcc_arbitrary_text_raises_only_invalid_xfcc(text):
    with contextlib.suppress(InvalidXfcc):
        xfcc.parse(text)


def test_server_handshake_threads_do_not_leak(server_source, client_source):
    before = threading.active_count()
    with EchoServer(server_context(server_source)) as server:
        reply, _, _ = meshsec_exchange(
            client_context(client_source, expect=allow_id(SERVER)), server.port
        )
    assert reply.startswith(b"echo:")
    assert threading.active_count() <= before + 1


def test_ca_rsa_and_ed25519_identities_handshake():
    for key_type in ("rsa-3072", "ed25519"):
        ca = CertificateAuthority.create("example.org", key_type=key_type)
        server = StaticIdentitySource(ca.issue(SERVER), ca.bundle)
        client = StaticIdentitySource(ca.issue(CLIENT), ca.bundle)
        with EchoServer(server_context(server)) as echo:
            reply, _, _ = meshsec_exchange(
                client_context(client, expect=allow_id(SERVER)), echo.port
            )
        assert reply == b"echo:" + CLIENT.encode() + b":ping\n"


def test_peer_from_xfcc_takes_the_proxy_peer_as_text():
    proxy = "spiffe://example.org/ns/edge/sa/proxy"
    header = f"By={proxy};URI={CLIENT}"
    got = xfcc.peer_from_xfcc(header, trusted_proxy=allow_id(proxy), proxy_peer=proxy)
    assert got == SpiffeId.parse(CLIENT)
    with pytest.raises(PeerNotAuthorized):
        xfcc.peer_from_xfcc(header, trusted_proxy=allow_id(proxy), proxy_peer="not an id")
    with pytest.raises(TypeError):
        xfcc.peer_from_xfcc(header, trusted_proxy=allow_id(proxy), proxy_peer=42)


def test_peer_from_xfcc_takes_the_proxy_connection(server_source, client_source, events):
    # The server's view of its immediate peer is the live TLS connection.
    results: list[object] = []
    header = f"By={CLIENT};URI=spiffe://example.org/ns/prod/sa/end-user"

    def forward(tls: ssl.SSLSocket) -> None:
        for trusted in (allow_id(CLIENT), allow_id(SERVER)):
            try:
                results.append(xfcc.peer_from_xfcc(header, trusted_proxy=trusted, proxy_peer=tls))
            except PeerNotAuthorized as exc:
                results.append(exc.code)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    ctx = server_context(server_source)

    def serve() -> None:
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            forward(tls)
            tls.sendall(b"done")

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        reply, _, _ = meshsec_exchange(
            client_context(client_source, expect=allow_id(SERVER)),
            listener.getsockname()[1],
            b"",
        )
    finally:
        worker.join(10)
        listener.close()
    assert reply == b"done"
    assert results == [
        SpiffeId.parse("spiffe://example.org/ns/prod/sa/end-user"),
        "tls.peer_not_authorized",
    ]
    refusals = [e for e in events if e.reason == "tls.peer_not_authorized"]
    assert len(refusals) == 1
    assert refusals[0].correlation_id


def test_allow_trust_domain_takes_the_spiffe_form_too():
    assert allow_trust_domain("spiffe://example.org")(SID) is True
    assert allow_trust_domain("spiffe://other.org")(SID) is False
    for bad in ["spiffe://example.org/ns", "spiffe://Example.org", "spiffe://"]:
        with pytest.raises(ConfigError):
            allow_trust_domain(bad)


def test_allow_path_prefix_with_trailing_slash_means_strictly_below():
    matcher = allow_path_prefix("/ns/prod/")
    assert matcher(SID) is True
    assert matcher(SpiffeId.parse("spiffe://example.org/ns/prod")) is False
    assert matcher(SpiffeId.parse("spiffe://example.org/ns/production/sa/x")) is False
    assert repr(matcher) == "allow_path_prefix('/ns/prod/')"
    for bad in ["/", "//", "/ns//", "/ns/../"]:
        with pytest.raises(ConfigError):
            allow_path_prefix(bad)
