"""Rotation under load: new certificates and a new root, zero failed requests."""

from __future__ import annotations

import threading

import pytest

from meshsec import audit
from meshsec.identity import CertificateAuthority, StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import allow_id, allow_path_prefix, client_context, server_context
from tests.mtls.conftest import SERVER, TD
from tests.mtls.peers import HttpsServer

CLIENTS = 4
TOTAL = 360


@pytest.mark.slow
def test_rotation_under_load_with_a_new_root():
    old_ca, new_ca = CertificateAuthority.create(TD), CertificateAuthority.create(TD)
    names = [f"spiffe://example.org/ns/prod/sa/client{i}" for i in range(CLIENTS)]
    server_source = StaticIdentitySource(old_ca.issue(SERVER), old_ca.bundle)
    client_sources = [StaticIdentitySource(old_ca.issue(n), old_ca.bundle) for n in names]

    done = threading.Event()
    lock = threading.Lock()
    results: list[str] = []
    failures: list[BaseException] = []
    milestones = {TOTAL // 3: threading.Event(), 2 * TOTAL // 3: threading.Event()}

    def client(index: int) -> None:
        with mtls_session(client_sources[index], expect=allow_id(SERVER)) as session:
            n = 0
            while not done.is_set():
                # Every other request opens a new connection, so rotations bite.
                headers = {"Connection": "close"} if n % 2 else {}
                n += 1
                try:
                    text = session.get(server.url, headers=headers, timeout=10).text
                except Exception as exc:
                    with lock:
                        failures.append(exc)
                    continue
                with lock:
                    results.append(text)
                    count = len(results)
                for mark, event in milestones.items():
                    if count >= mark:
                        event.set()
                if count >= TOTAL:
                    done.set()

    with (
        audit.capture() as events,
        HttpsServer(server_context(server_source, allow=allow_path_prefix("/ns/prod"))) as server,
    ):
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        first, second = milestones.values()
        assert first.wait(60)
        # Rotation 1: every workload gets a fresh leaf from the same root.
        server_source.update(old_ca.issue(SERVER))
        for name, source in zip(names, client_sources, strict=True):
            source.update(old_ca.issue(name))
        assert second.wait(60)
        # Rotation 2: a new root joins every bundle first, then leaves move to it.
        both = old_ca.bundle.merge(new_ca.bundle)
        for source in (server_source, *client_sources):
            source.update(bundle=both)
        server_source.update(new_ca.issue(SERVER))
        for name, source in zip(names, client_sources, strict=True):
            source.update(new_ca.issue(name))
        marker = len(results)
        assert done.wait(60)
        for thread in threads:
            thread.join(30)

    refusals = [(e.action, e.reason, dict(e.attributes)) for e in events if e.reason]
    assert failures == [], refusals
    assert len(results) >= TOTAL
    # The last requests came from clients holding leaves of the new root.
    new_serials = {f"{s.identity.serial_number:x}" for s in client_sources}
    assert any(r.split()[1] in new_serials for r in results[marker:])


def test_agent_rotated_files_reach_new_connections(tmp_path, ca):
    """A FileIdentitySource (SPIRE agent / cert-manager files) behind a server context."""
    import socket

    from cryptography import x509

    from meshsec.identity import FileIdentitySource
    from tests.identity import certs
    from tests.mtls.conftest import CLIENT
    from tests.mtls.peers import EchoServer

    def write(identity: object) -> None:
        certs.write_pem(tmp_path, "svid", identity.certificate, identity.private_key)  # type: ignore[attr-defined]

    first = ca.issue(SERVER)
    write(first)
    ca.bundle.save(tmp_path / "bundle.pem")
    source = FileIdentitySource(
        tmp_path / "svid.pem", tmp_path / "svid.key", tmp_path / "bundle.pem"
    )
    client = client_context(
        StaticIdentitySource(ca.issue(CLIENT), ca.bundle), expect=allow_id(SERVER)
    )

    def served_serial(port: int) -> int:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client.wrap_socket(raw) as tls,
        ):
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number

    with EchoServer(server_context(source)) as server:
        assert served_serial(server.port) == first.serial_number
        second = ca.issue(SERVER)
        write(second)
        assert source.poll() is True
        assert served_serial(server.port) == second.serial_number
