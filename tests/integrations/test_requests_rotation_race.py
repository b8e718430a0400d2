"""A rotation landing while a connection is being set up must not fail the request.

The race seen under load: a client thread wraps its socket with the context
of the old trust bundle; before its handshake completes, the new root joins
the bundle and the server moves to a leaf of the new root. The client then
refuses the server (nothing of the request has been sent), and mtls_session
retries once on a fresh connection with the current context.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from meshsec.identity import CertificateAuthority, StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import allow_id, server_context
from tests.mtls.conftest import CLIENT, SERVER, TD


@contextmanager
def one_shot_server(
    context_for: Callable[[int], object], before_handshake: Callable[[int], None]
) -> Iterator[int]:
    """Serve plain-TLS HTTP; run ``before_handshake(n)`` between accept and handshake."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        n = 0
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            n += 1
            before_handshake(n)
            try:
                with context_for(n).wrap_socket(raw, server_side=True) as tls:  # type: ignore[attr-defined]
                    tls.recv(65536)
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    )
            except OSError:
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_a_root_rotation_during_the_handshake_is_retried_once_and_succeeds():
    old_ca, new_ca = CertificateAuthority.create(TD), CertificateAuthority.create(TD)
    both = old_ca.bundle.merge(new_ca.bundle)
    client_source = StaticIdentitySource(old_ca.issue(CLIENT), old_ca.bundle)
    # The server already presents a leaf of the new root and trusts both roots.
    server_source = StaticIdentitySource(new_ca.issue(SERVER), both)
    server = server_context(server_source)

    def rotate_client_bundle_once(n: int) -> None:
        if n == 1:  # the client's first connection was wrapped with old trust
            client_source.update(bundle=both)

    with (
        one_shot_server(lambda _n: server, rotate_client_bundle_once) as port,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
    ):
        response = session.get(f"https://127.0.0.1:{port}/", timeout=10)
    assert response.status_code == 200
    assert response.text == "ok"


def test_without_a_rotation_an_untrusted_server_is_still_refused_once():
    from meshsec.mtls import PeerCertificateUntrusted

    old_ca, new_ca = CertificateAuthority.create(TD), CertificateAuthority.create(TD)
    client_source = StaticIdentitySource(old_ca.issue(CLIENT), old_ca.bundle)
    server = server_context(StaticIdentitySource(new_ca.issue(SERVER), new_ca.bundle))
    attempts: list[int] = []

    with (
        one_shot_server(lambda _n: server, attempts.append) as port,
        mtls_session(client_source, expect=allow_id(SERVER)) as session,
        pytest.raises(PeerCertificateUntrusted),
    ):
        session.get(f"https://127.0.0.1:{port}/", timeout=10)
    assert attempts == [1]  # no retry when nothing rotated
