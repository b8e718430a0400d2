"""meshsec client -> real ``openssl s_server``: the right identity or a typed refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsec.identity import CertificateAuthority, StaticIdentitySource, WorkloadIdentity
from meshsec.mtls import (
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
    PeerCertificateUntrusted,
    PeerNotAuthorized,
    allow_id,
    client_context,
)
from tests.identity import certs
from tests.mtls.conftest import CLIENT, SERVER
from tests.mtls.peers import (
    auth_events,
    meshsec_exchange,
    needs_openssl,
    openssl_server,
    write_chain,
)

pytestmark = needs_openssl
EVIL = "spiffe://evil.org/ns/prod/sa/server"


def _server_files(
    tmp_path: Path, ca: CertificateAuthority, cert: object, key: object
) -> tuple[Path, Path, Path]:
    cert_path, key_path = certs.write_pem(tmp_path, "server", cert, key)  # type: ignore[arg-type]
    ca_file = write_chain(tmp_path / "ca.pem", list(ca.bundle))
    return cert_path, key_path, ca_file


@pytest.fixture
def client(client_source: StaticIdentitySource) -> object:
    return client_context(client_source, expect=allow_id(SERVER))


def _good(ca: CertificateAuthority) -> tuple[object, object]:
    identity: WorkloadIdentity = ca.issue(SERVER)
    return identity.certificate, identity.private_key


def test_client_talks_to_openssl_server_with_right_identity(tmp_path, ca, client):
    files = _server_files(tmp_path, ca, *_good(ca))
    with openssl_server(tmp_path, *files) as port:
        reply, _, _ = meshsec_exchange(client, port, b"ping\n")
    assert reply == b"gnip\n"  # s_server -rev reverses each line


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda ca: certs.expired_leaf(ca, SERVER), PeerCertificateExpired),
        (lambda ca: certs.not_yet_valid_leaf(ca, SERVER), PeerCertificateNotYetValid),
        (certs.leaf_without_uri_san, PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_two_uri_sans(ca, SERVER, CLIENT), PeerCertificateInvalid),
        (lambda ca: certs.ca_flagged_leaf(ca, SERVER), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, "https://example.org/server"), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, EVIL), PeerCertificateInvalid),
        (lambda ca: certs.custom_leaf(ca, uris=[CLIENT]), PeerNotAuthorized),
    ],
    ids=["expired", "not_yet_valid", "no_uri_san", "two_uri_sans", "ca_flagged_leaf",
         "non_spiffe_uri", "wrong_trust_domain", "wrong_spiffe_id"],
)  # fmt: skip
def test_client_refuses_bad_server_certificate(tmp_path, ca, client, make, error):
    files = _server_files(tmp_path, ca, *make(ca))
    with openssl_server(tmp_path, *files) as port, pytest.raises(error) as info:
        meshsec_exchange(client, port, b"secret request\n")
    assert info.value.code.startswith("tls.")


def test_client_refuses_server_from_another_ca(tmp_path, ca, other_ca, client):
    identity = other_ca.issue(SERVER)
    # s_server trusts our CA for client certs, but presents a leaf of another CA.
    files = _server_files(tmp_path, ca, identity.certificate, identity.private_key)
    with openssl_server(tmp_path, *files) as port, pytest.raises(PeerCertificateUntrusted):
        meshsec_exchange(client, port)


def test_client_refuses_server_of_rotated_out_root(tmp_path, ca, other_ca):
    # The client trusts only other_ca: the server's (valid) leaf of ca is refused.
    source = StaticIdentitySource(other_ca.issue(CLIENT), other_ca.bundle)
    ctx = client_context(source, expect=allow_id(SERVER))
    files = _server_files(tmp_path, ca, *_good(ca))
    with openssl_server(tmp_path, *files) as port, pytest.raises(PeerCertificateUntrusted):
        meshsec_exchange(ctx, port)


def _app_data_records(log: bytes) -> int:
    # s_server -msg prints the inner content type of each decrypted TLS 1.3
    # record it receives; 0x17 is application_data (RFC 8446 section 5.1).
    return log.count(b"<<< TLS 1.3, InnerContent [length 0001]\n    17")


def test_refused_server_never_receives_application_data(tmp_path, ca, client, client_source):
    cert, key = certs.custom_leaf(ca, uris=[CLIENT])  # valid chain, wrong SPIFFE ID
    files = _server_files(tmp_path, ca, cert, key)
    with openssl_server(tmp_path, *files, "-msg") as port:
        log = tmp_path / f"s_server-{port}.log"
        with pytest.raises(PeerNotAuthorized):
            meshsec_exchange(client, port, b"TOP-SECRET-PAYLOAD\n")
        assert _app_data_records(log.read_bytes()) == 0
        # Control: a client that accepts this server does get data through.
        accepting = client_context(client_source, expect=allow_id(CLIENT))
        reply, _, _ = meshsec_exchange(accepting, port, b"hello\n")
        assert reply == b"olleh\n"
        assert _app_data_records(log.read_bytes()) >= 1


def test_failures_emit_one_audit_event_with_code_and_correlation_id(tmp_path, ca, client, events):
    from meshsec import correlation

    files = _server_files(tmp_path, ca, *certs.expired_leaf(ca, SERVER))
    request = correlation.CorrelationContext.new()
    with (
        openssl_server(tmp_path, *files) as port,
        correlation.bind(request),
        pytest.raises(PeerCertificateExpired),
    ):
        meshsec_exchange(client, port)
    events = auth_events(events)
    assert len(events) == 1
    (event,) = events
    assert event.reason == "tls.peer_certificate_expired"
    assert event.correlation_id == request.correlation_id
    assert str(event.category).lower().endswith("authentication")
