"""Real ``openssl s_client`` -> meshsec server: good identities in, everything else out.

Under TLS 1.3 a refused client certificate often looks like a successful
handshake on the client side and fails only at the first read, so every case
sends a line and checks whether the server's reply came back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshsec.identity import CertificateAuthority, StaticIdentitySource
from meshsec.mtls import (
    HandshakeFailed,
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
    PeerCertificateUntrusted,
    PeerNotAuthorized,
    allow_path_prefix,
    server_context,
)
from tests.identity import certs
from tests.mtls.conftest import CLIENT
from tests.mtls.peers import EchoServer, auth_events, needs_openssl, openssl_client, write_chain

pytestmark = needs_openssl
EVIL = "spiffe://evil.org/ns/prod/sa/c"
DEV = "spiffe://example.org/ns/dev/sa/c"


@pytest.fixture
def ca_file(tmp_path: Path, ca: CertificateAuthority) -> Path:
    return write_chain(tmp_path / "ca.pem", list(ca.bundle))


@pytest.fixture
def server(server_source: StaticIdentitySource):
    ctx = server_context(server_source, allow=allow_path_prefix("/ns/prod"))
    with EchoServer(ctx) as srv:
        yield srv


def _client_args(
    tmp_path: Path, ca_file: Path, cert: object = None, key: object = None
) -> list[str]:
    args = ["-CAfile", str(ca_file), "-verify_return_error"]
    if cert is not None:
        cert_path, key_path = certs.write_pem(tmp_path, "client", cert, key)  # type: ignore[arg-type]
        args += ["-cert", str(cert_path), "-key", str(key_path)]
    return args


def _run(server: EchoServer, args: list[str]) -> bytes:
    result = openssl_client(server.port, *args)
    server.__exit__()  # join the worker so its outcome is recorded
    return result.stdout


def test_good_client_is_accepted_and_server_sees_its_spiffe_id(tmp_path, ca, ca_file, server):
    identity = ca.issue(CLIENT)
    out = _run(server, _client_args(tmp_path, ca_file, identity.certificate, identity.private_key))
    assert out == f"echo:{CLIENT}:ping\n".encode()
    assert [str(p) for p in server.peers] == [CLIENT]
    assert server.errors == []


def test_good_client_over_tls12_with_aead_is_accepted(tmp_path, ca, ca_file, server):
    identity = ca.issue(CLIENT)
    args = _client_args(tmp_path, ca_file, identity.certificate, identity.private_key)
    out = _run(server, [*args, "-tls1_2"])
    assert out.startswith(b"echo:")


def _refused(server: EchoServer, out: bytes, error: type[Exception]) -> None:
    assert b"echo:" not in out
    assert server.peers == []
    assert len(server.errors) == 1, server.errors
    assert isinstance(server.errors[0], error), server.errors


def test_client_without_certificate_is_refused(tmp_path, ca_file, server):
    out = _run(server, _client_args(tmp_path, ca_file))
    _refused(server, out, HandshakeFailed)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda ca: certs.expired_leaf(ca, CLIENT), PeerCertificateExpired),
        (lambda ca: certs.not_yet_valid_leaf(ca, CLIENT), PeerCertificateNotYetValid),
        (certs.leaf_without_uri_san, PeerCertificateInvalid),
        (lambda ca: certs.ca_flagged_leaf(ca, CLIENT), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, EVIL), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, DEV), PeerNotAuthorized),
    ],
    ids=["expired", "not_yet_valid", "no_uri_san", "ca_flagged_leaf", "wrong_trust_domain",
         "not_allowed"],
)  # fmt: skip
def test_bad_client_certificate_is_refused(tmp_path, ca, ca_file, server, make, error):
    out = _run(server, _client_args(tmp_path, ca_file, *make(ca)))
    _refused(server, out, error)


def test_client_certificate_from_another_ca_is_refused(tmp_path, other_ca, ca_file, server):
    identity = other_ca.issue(CLIENT)
    out = _run(server, _client_args(tmp_path, ca_file, identity.certificate, identity.private_key))
    _refused(server, out, PeerCertificateUntrusted)


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_protocol_versions_are_refused(tmp_path, ca, ca_file, server, version):
    identity = ca.issue(CLIENT)
    args = _client_args(tmp_path, ca_file, identity.certificate, identity.private_key)
    # SECLEVEL=0 makes s_client really offer the old version, so the refusal
    # observed is the meshsec server's, not the client's own policy.
    out = _run(server, [*args, version, "-cipher", "DEFAULT@SECLEVEL=0"])
    _refused(server, out, HandshakeFailed)
    assert (
        "VERSION" in server.errors[0].message.upper()
        or "PROTOCOL" in server.errors[0].message.upper()
    )


@pytest.mark.parametrize(
    "cipher", ["AES128-SHA", "AES256-SHA256", "ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256"]
)
def test_non_ecdhe_or_non_aead_ciphers_are_refused(tmp_path, ca, ca_file, server, cipher):
    identity = ca.issue(CLIENT)
    args = _client_args(tmp_path, ca_file, identity.certificate, identity.private_key)
    out = _run(server, [*args, "-tls1_2", "-cipher", cipher])
    _refused(server, out, HandshakeFailed)
    assert "CIPHER" in server.errors[0].message.upper()


def test_refusal_emits_one_audit_event(tmp_path, ca, ca_file, server, events):
    out = _run(server, _client_args(tmp_path, ca_file, *certs.expired_leaf(ca, CLIENT)))
    assert b"echo:" not in out
    events = auth_events(events)
    assert [e.reason for e in events] == ["tls.peer_certificate_expired"]
    assert events[0].correlation_id
