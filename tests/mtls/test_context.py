"""How the contexts are configured, how the key gets in, and what cannot be weakened."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import socket
import ssl
import stat
import tempfile

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from meshsec.errors import ConfigError
from meshsec.identity import StaticIdentitySource
from meshsec.mtls import (
    HandshakeFailed,
    PeerNotAuthorized,
    allow_id,
    client_context,
    peer_id,
    server_context,
)
from meshsec.mtls._keyload import load_identity
from tests.mtls.conftest import CLIENT, SERVER
from tests.mtls.peers import EchoServer, meshsec_exchange


@pytest.fixture(params=["server", "client"])
def ctx(request, server_source, client_source) -> ssl.SSLContext:
    if request.param == "server":
        return server_context(server_source)
    return client_context(client_source, expect=allow_id(SERVER))


def test_only_ecdhe_aead_suites_are_enabled(ctx):
    suites = ctx.get_ciphers()
    assert suites
    for suite in suites:
        assert suite["aead"], suite["name"]
        if suite["protocol"] != "TLSv1.3":  # "protocol" = version the suite first appeared in
            assert suite["kea"] == "kx-ecdhe", suite["name"]


def test_protocol_floor_compression_renegotiation_and_verification(ctx):
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is False  # the SPIFFE ID is checked instead


def test_trust_is_the_bundle_only_never_the_system_store(ctx, ca):
    loaded = ctx.get_ca_certs(binary_form=True)
    assert sorted(loaded) == sorted(c.public_bytes(Encoding.DER) for c in ca.bundle)


def test_min_version_tls13(server_source):
    assert server_context(server_source, min_version=ssl.TLSVersion.TLSv1_3).minimum_version == (
        ssl.TLSVersion.TLSv1_3
    )


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, "TLSv1_2"])
def test_weak_or_bogus_min_version_is_a_config_error(server_source, version):
    with pytest.raises(ConfigError):
        server_context(server_source, min_version=version)


def test_client_needs_an_expectation(client_source):
    with pytest.raises(TypeError):
        client_context(client_source)  # type: ignore[call-arg]
    with pytest.raises(ConfigError):
        client_context(client_source, expect="spiffe://example.org/x")  # type: ignore[arg-type]


class _Spy:
    """Replaces SSLContext.load_cert_chain to look at the files while they exist."""

    def __init__(self) -> None:
        self.seen: dict[str, object] = {}

    def __call__(self, _ctx: object, certfile: str, keyfile: str, password: object) -> None:
        with open(keyfile, "rb") as handle:
            self.seen["key"] = handle.read()
        self.seen["mode"] = stat.S_IMODE(os.stat(keyfile).st_mode)
        self.seen["paths"] = (certfile, keyfile)
        self.seen["password"] = password() if callable(password) else password


@pytest.mark.parametrize("use_memfd", [True, False])
def test_key_is_never_on_disk_in_plaintext(tmp_path, monkeypatch, client_source, use_memfd):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spy = _Spy()
    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    load_identity(
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), client_source.identity, use_memfd=use_memfd
    )
    assert spy.seen["key"].startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert b"BEGIN PRIVATE KEY" not in spy.seen["key"]
    assert isinstance(spy.seen["password"], bytes)
    assert len(spy.seen["password"]) >= 32
    if not use_memfd:
        assert spy.seen["mode"] == 0o600
    for path in spy.seen["paths"]:
        assert not os.path.exists(path) or path.startswith("/proc/self/fd/")
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_the_loaded_key_really_works(server_source, client_source):
    # Round trip through a real handshake with the encrypted temporary key.
    client = client_context(client_source, expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        reply, _, _ = meshsec_exchange(client, server.port)
    assert reply == f"echo:{CLIENT}:ping\n".encode()


def test_verify_mode_downgrade_is_refused(ctx):
    with pytest.raises(ConfigError):
        ctx.verify_mode = ssl.CERT_NONE  # what urllib3 does for verify=False
    with pytest.raises(ConfigError):
        ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.verify_mode = ssl.CERT_REQUIRED  # setting the safe value is harmless
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_extra_trust_anchors_and_other_keys_are_refused(ctx, other_ca, tmp_path):
    # What requests' cert_verify + urllib3 do with a CA bundle path or cert=.
    with pytest.raises(ConfigError):
        ctx.load_verify_locations(cadata=other_ca.bundle.to_pem().decode())
    with pytest.raises(ConfigError):
        ctx.load_default_certs()
    with pytest.raises(ConfigError):
        ctx.set_default_verify_paths()
    with pytest.raises(ConfigError):
        ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    assert len(ctx.get_ca_certs()) == 1


def test_verification_turned_off_below_meshsec_is_refused_at_handshake(
    server_source, client_source
):
    client = client_context(client_source, expect=allow_id(SERVER))
    # Bypass MeshsecContext's setter the way only deliberate code could.
    ssl.SSLContext.__dict__["verify_mode"].__set__(client, ssl.CERT_NONE)
    with EchoServer(server_context(server_source)) as server, pytest.raises(HandshakeFailed):
        meshsec_exchange(client, server.port)
    assert server.peers == []


def test_no_data_is_sent_without_the_check_even_without_handshake_on_connect(
    server_source, client_source
):
    client = client_context(client_source, expect=allow_id(CLIENT))  # wrong: server is SERVER
    with (
        EchoServer(server_context(server_source)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
    ):
        tls = client.wrap_socket(raw, do_handshake_on_connect=False)
        with tls, pytest.raises(PeerNotAuthorized):
            tls.sendall(b"secret\n")  # the implicit handshake must not bypass the check
    assert b"secret" not in b"".join(server.received)


def test_asyncio_streams_get_the_check_too(server_source, client_source):
    async def talk(expect: str) -> bytes:
        ctx = client_context(client_source, expect=allow_id(expect))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=ctx)
        try:
            writer.write(b"ping\n")
            await writer.drain()
            return await reader.readline()
        finally:
            writer.close()
            # The echo server hangs up first; our close_notify may meet a reset.
            with contextlib.suppress(ConnectionResetError):
                await writer.wait_closed()

    with EchoServer(server_context(server_source)) as server:
        assert asyncio.run(talk(SERVER)) == f"echo:{CLIENT}:ping\n".encode()
        with pytest.raises(PeerNotAuthorized):
            asyncio.run(talk(CLIENT))


def test_peer_id_of_a_plain_ssl_socket(server_source, client_source):
    # peer_id works on connections made without meshsec's socket class too.
    client = client_context(client_source, expect=allow_id(SERVER))
    with (
        EchoServer(server_context(server_source)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        client.wrap_socket(raw) as tls,
    ):
        assert str(peer_id(tls.getpeercert(binary_form=True))) == SERVER
        assert str(peer_id(tls)) == SERVER
        tls.sendall(b"x\n")
        tls.recv(100)


def test_the_checking_socket_classes_cannot_be_swapped_out(ctx):
    with pytest.raises(ConfigError):
        ctx.sslsocket_class = ssl.SSLSocket
    with pytest.raises(ConfigError):
        ctx.sslobject_class = ssl.SSLObject
    assert issubclass(ctx.sslsocket_class, ssl.SSLSocket)


def test_server_allow_must_be_a_matcher(server_source):
    with pytest.raises(ConfigError):
        server_context(server_source, allow="spiffe://example.org/x")  # type: ignore[arg-type]


def test_non_blocking_handshake_is_checked_when_it_completes(server_source, client_source):
    import selectors

    client = client_context(client_source, expect=allow_id(SERVER))
    with (
        EchoServer(server_context(server_source)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
    ):
        raw.setblocking(False)
        tls = client.wrap_socket(raw, do_handshake_on_connect=False)
        with tls, selectors.DefaultSelector() as selector:
            selector.register(tls, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while True:
                try:
                    tls.do_handshake()
                    break
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    selector.select(5)
                    assert tls.meshsec_peer is None  # nothing is authorized half-way
            assert str(tls.meshsec_peer) == SERVER


def test_asyncio_server_checks_clients(server_source, client_source, ca):
    stranger = StaticIdentitySource(ca.issue("spiffe://example.org/ns/dev/sa/other"), ca.bundle)

    async def scenario() -> tuple[bytes, bytes]:
        seen: list[str] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(str(peer_id(writer.get_extra_info("ssl_object"))))
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        ctx = server_context(server_source, allow=allow_id(CLIENT))
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]

        async def call(source: object) -> bytes:
            cctx = client_context(source, expect=allow_id(SERVER))  # type: ignore[arg-type]
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=cctx)
            writer.write(b"hi\n")
            try:
                return await reader.readline()
            except OSError:
                return b""
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

        good = await call(client_source)
        bad = await call(stranger)
        server.close()
        await server.wait_closed()
        assert seen == [CLIENT]
        return good, bad

    good, bad = asyncio.run(scenario())
    assert good == b"hi\n"
    assert bad == b""


def test_http_client_gets_the_check_for_free(server_source, client_source):
    import http.client

    from tests.mtls.peers import HttpsServer

    with HttpsServer(server_context(server_source)) as server:
        good = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=client_context(client_source, expect=allow_id(SERVER))
        )
        good.request("GET", "/")
        assert good.getresponse().read().split()[0].decode() == CLIENT
        good.close()
        bad = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=client_context(client_source, expect=allow_id(CLIENT))
        )
        with pytest.raises(PeerNotAuthorized):
            bad.request("POST", "/", body=b"secret")
        bad.close()
    assert server.requests == 1


def test_contexts_show_no_key_material(ctx, server_source):
    text = repr(ctx) + str(ctx) + repr(ctx._meshsec_rotation.current()._meshsec_policy)
    assert "PRIVATE" not in text
    assert server_source.identity.private_key_pem().reveal().decode() not in text
    with pytest.raises(TypeError):
        pickle.dumps(ctx)


def test_protocol_floor_ciphers_and_options_cannot_be_weakened(ctx):
    with pytest.raises(ConfigError):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3  # raising the floor is fine
    for weak in ["AES128-SHA", "ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256", "ALL:@SECLEVEL=0"]:
        before = ctx.get_ciphers()
        with pytest.raises(ConfigError):
            ctx.set_ciphers(weak)
        assert ctx.get_ciphers() == before
    ctx.set_ciphers("ECDHE+AESGCM")  # narrowing is fine
    assert all("CHACHA" not in c["name"] for c in ctx.get_ciphers() if c["protocol"] != "TLSv1.3")
    with pytest.raises(ConfigError):
        ctx.options &= ~ssl.OP_NO_COMPRESSION
    with pytest.raises(ConfigError):
        ctx.options &= ~ssl.OP_NO_RENEGOTIATION
    ctx.options |= ssl.OP_NO_TICKET  # adding restrictions is fine
    assert ctx.options & ssl.OP_NO_COMPRESSION


def test_dropped_contexts_unsubscribe_from_their_source(server_source):
    import gc

    before = len(server_source._subscribers)
    contexts = [server_context(server_source) for _ in range(5)]
    assert len(server_source._subscribers) == before + 5
    del contexts
    gc.collect()
    assert len(server_source._subscribers) == before


def test_authorize_peer_on_a_plain_ssl_connection(server_source, ca, client_source):
    from cryptography.hazmat.primitives import serialization

    from meshsec.mtls import authorize_peer

    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.check_hostname = False
    plain.load_verify_locations(cadata=ca.bundle.to_pem().decode())
    identity = client_source.identity
    key_pem = identity.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
        with open(cert_path, "wb") as handle:
            handle.write(identity.chain_pem)
        with open(key_path, "wb") as handle:
            handle.write(key_pem)
        plain.load_cert_chain(cert_path, key_path, password=b"pw")
    with (
        EchoServer(server_context(server_source)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        plain.wrap_socket(raw) as tls,
    ):
        assert str(authorize_peer(tls, allow_id(SERVER), trust_domain="example.org")) == SERVER
        with pytest.raises(PeerNotAuthorized):
            authorize_peer(tls, allow_id(CLIENT))
