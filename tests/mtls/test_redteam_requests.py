"""Red-team attacks on mtls_session: environment trust, redirects, opt-outs, keys on disk."""

from __future__ import annotations

import http.server
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshsec.errors import ConfigError
from meshsec.identity import StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import (
    PeerCertificateUntrusted,
    PeerNotAuthorized,
    _keyload,
    allow_id,
    server_context,
)
from tests.mtls.conftest import SERVER
from tests.mtls.peers import HttpsServer

OTHER = "spiffe://example.org/ns/prod/sa/other"


class _Redirector:
    """An mTLS server that answers every GET with a 302 to ``location``."""

    def __init__(self, context: ssl.SSLContext, location: str) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5

            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = False
            block_on_close = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def __enter__(self) -> _Redirector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self._thread.join(10)
        self.httpd.server_close()


@pytest.fixture
def rogue_server(other_ca) -> Iterator[HttpsServer]:
    source = StaticIdentitySource(other_ca.issue(SERVER), other_ca.bundle)
    with HttpsServer(server_context(source)) as server:
        yield server


@pytest.mark.parametrize(
    "variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"]
)
def test_ca_environment_variables_add_no_trust(
    variable, other_ca, rogue_server, client_source, tmp_path, monkeypatch
):
    bundle = tmp_path / "rogue.pem"
    bundle.write_bytes(other_ca.bundle.to_pem())
    monkeypatch.setenv(variable, str(tmp_path if variable == "SSL_CERT_DIR" else bundle))
    with (
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(PeerCertificateUntrusted),
    ):
        session.get(rogue_server.url, timeout=5)
    assert rogue_server.requests == 0


@pytest.mark.parametrize(
    "kwargs", [{"verify": False}, {"cert": "/nonexistent.pem"}, {"cert": ("/a.pem", "/a.key")}]
)
def test_opt_outs_are_refused(kwargs, server_source, client_source):
    with (
        HttpsServer(server_context(server_source)) as server,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(ConfigError),
    ):
        session.get(server.url, timeout=5, **kwargs)
    assert server.requests == 0


def test_verify_path_to_rogue_bundle_adds_no_trust(other_ca, rogue_server, client_source, tmp_path):
    bundle = tmp_path / "rogue.pem"
    bundle.write_bytes(other_ca.bundle.to_pem())
    with (
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(PeerCertificateUntrusted),
    ):
        session.get(rogue_server.url, timeout=5, verify=str(bundle))


def test_plain_http_is_refused(client_source):
    with (
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(ConfigError),
    ):
        session.get("http://127.0.0.1:9/", timeout=5)


def test_redirect_to_another_host_is_checked_against_expect(ca, server_source, client_source):
    other = StaticIdentitySource(ca.issue(OTHER), ca.bundle)
    with (
        HttpsServer(server_context(other)) as target,
        _Redirector(server_context(server_source), target.url) as redirector,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(PeerNotAuthorized),
    ):
        session.get(redirector.url, timeout=5)
    assert target.requests == 0


def test_redirect_to_plain_http_is_refused(server_source, client_source):
    with (
        _Redirector(server_context(server_source), "http://127.0.0.1:9/") as redirector,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(ConfigError),
    ):
        session.get(redirector.url, timeout=5)


def _meshsec_temp_entries() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("meshsec-")}


@pytest.mark.parametrize("use_memfd", [True, False])
def test_key_handed_to_openssl_is_never_plaintext_and_leaves_nothing(
    use_memfd, client_source, monkeypatch
):
    seen: list[bytes] = []
    original = ssl.SSLContext.load_cert_chain

    def spy(ctx, certfile, keyfile=None, password=None):
        seen.append(Path(keyfile).read_bytes())
        return original(ctx, certfile, keyfile, password)

    before = _meshsec_temp_entries()
    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _keyload.load_identity(ctx, client_source.identity, use_memfd=use_memfd)
    monkeypatch.undo()
    assert len(seen) == 1
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in seen[0]
    assert b"-----BEGIN PRIVATE KEY-----" not in seen[0]
    assert _meshsec_temp_entries() == before


def test_no_memfd_left_open_after_building_contexts(server_source):
    def memfds() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += "memfd:meshsec" in os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
        return count

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd on this platform")
    before = memfds()
    for _ in range(5):
        server_context(server_source)
    assert memfds() == before


class _RotateOnFirstRefusal:
    """An audit sink standing in for a bundle rotation that lands mid-handshake."""

    def __init__(self, rotate) -> None:
        self.rotate = rotate
        self.refusals: list[str] = []

    def emit(self, event) -> None:
        if event.action == "mtls.handshake" and event.attributes.get("role") == "client":
            self.refusals.append(event.reason)
            if len(self.refusals) == 1:
                self.rotate()


def test_bundle_rotation_racing_a_handshake_costs_no_request(ca, client_source):
    # The server already moved to a leaf of the new root; the client's bundle
    # gains that root while its first handshake (old context) is failing.
    from meshsec import audit
    from meshsec.identity import CertificateAuthority

    new_ca = CertificateAuthority.create(ca.trust_domain)
    both = ca.bundle.merge(new_ca.bundle)
    server_source = StaticIdentitySource(new_ca.issue(SERVER), both)
    sink = _RotateOnFirstRefusal(lambda: client_source.update(bundle=both))
    previous = audit.configure(sink)
    try:
        with (
            HttpsServer(server_context(server_source)) as server,
            mtls_session(client_source, expect=allow_id(SERVER)) as session,
        ):
            # POST on purpose: nothing was sent on the refused connection, so
            # even a non-idempotent request is safe to send again.
            response = session.post(server.url, data=b"x", timeout=5)
    finally:
        audit.configure(*previous)
    assert sink.refusals == ["tls.peer_certificate_untrusted"]
    assert response.status_code == 501  # the GET-only test server answered: it got the POST


def test_untrusted_server_without_rotation_is_not_retried(rogue_server, client_source, events):
    with (
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(PeerCertificateUntrusted),
    ):
        session.post(rogue_server.url, data=b"card=4111", timeout=5)
    client_refusals = [
        e for e in events if e.action == "mtls.handshake" and e.attributes["role"] == "client"
    ]
    assert [e.reason for e in client_refusals] == ["tls.peer_certificate_untrusted"]
    assert rogue_server.requests == 0
