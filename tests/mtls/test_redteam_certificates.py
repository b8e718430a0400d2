"""Red-team certificate attacks against a real ``openssl s_server`` and the peer check.

What meshsec refuses in a peer's chain (documented in docs/mtls.md):
an intermediate that is not a CA, a root impersonated by name and key
identifier, a leaf whose EKU does not allow the role it plays, weak keys
(RSA under 2048 bits, EC curves under 256 bits), and every X509-SVID
violation (CA powers, not one URI SAN, another trust domain, a non-SPIFFE URI).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshsec.clock import system_clock, to_datetime
from meshsec.identity import CertificateAuthority, StaticIdentitySource
from meshsec.identity._ca import _build_leaf
from meshsec.mtls import (
    PeerCertificateInvalid,
    allow_id,
    allow_trust_domain,
    authorize_peer,
    client_context,
    server_context,
)
from tests.identity import certs
from tests.mtls.conftest import CLIENT, SERVER, TD
from tests.mtls.peers import (
    EchoServer,
    auth_events,
    meshsec_exchange,
    needs_openssl,
    openssl_server,
    write_chain,
)


def _sign(issuer_cert, issuer_key, public_key, *, uris, is_ca=False, eku=None, ski_issuer=None):
    now = to_datetime(system_clock)
    ski = (ski_issuer or issuer_cert).extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(secrets.randbits(120) + 1)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
            critical=True,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _exchange_with_openssl(tmp_path: Path, ca, client_ctx, cert, key, chain=(), *extra: str):
    cert_path, key_path = certs.write_pem(tmp_path, "server", cert, key, chain)
    ca_file = write_chain(tmp_path / "ca.pem", list(ca.bundle))
    with openssl_server(tmp_path, cert_path, key_path, ca_file, *extra) as port:
        return meshsec_exchange(client_ctx, port)


@pytest.fixture
def client(client_source):
    return client_context(client_source, expect=allow_id(SERVER))


@needs_openssl
def test_chain_through_non_ca_intermediate_is_refused(tmp_path, ca, client, events):
    # A leaf of the CA used as an "intermediate" to sign another leaf.
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle = _build_leaf(
        issuer=ca.certificate,
        issuer_key=ca._key,
        public_key=middle_key.public_key(),
        uris=[f"spiffe://{TD}/ns/x/sa/middle"],
        not_before=to_datetime(ca.clock) - timedelta(minutes=1),
        not_after=to_datetime(ca.clock) + timedelta(hours=1),
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _sign(middle, middle_key, leaf_key.public_key(), uris=[SERVER])
    with pytest.raises(PeerCertificateInvalid):
        _exchange_with_openssl(tmp_path, ca, client, leaf, leaf_key, [middle])
    assert len(auth_events(events)) == 1


@needs_openssl
def test_impersonated_root_with_same_name_and_key_identifier_is_refused(tmp_path, ca, client):
    # A rogue self-signed root copying the real root's subject and SKI: only
    # the signature tells them apart, and it must.
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    real = ca.certificate
    rogue_root = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject)
        .public_key(rogue_key.public_key())
        .serial_number(secrets.randbits(120) + 1)
        .not_valid_before(real.not_valid_before_utc)
        .not_valid_after(real.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            real.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value,
            critical=False,
        )
        .sign(rogue_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _sign(rogue_root, rogue_key, leaf_key.public_key(), uris=[SERVER], ski_issuer=real)
    with pytest.raises(PeerCertificateInvalid):
        _exchange_with_openssl(tmp_path, ca, client, leaf, leaf_key)
    with pytest.raises(PeerCertificateInvalid):
        _exchange_with_openssl(tmp_path, ca, client, leaf, leaf_key, [rogue_root])


@needs_openssl
def test_server_leaf_with_client_auth_only_eku_is_refused(tmp_path, ca, client):
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _sign(
        ca.certificate, ca._key, key.public_key(), uris=[SERVER],
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )  # fmt: skip
    with pytest.raises(PeerCertificateInvalid):
        _exchange_with_openssl(tmp_path, ca, client, leaf, key)


def test_client_leaf_with_server_auth_only_eku_is_refused(ca, server_source):
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _sign(
        ca.certificate, ca._key, key.public_key(), uris=[CLIENT],
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
    )  # fmt: skip
    from meshsec.identity import WorkloadIdentity

    identity = WorkloadIdentity(private_key=key, certificate=leaf)
    client = client_context(StaticIdentitySource(identity, ca.bundle), expect=allow_id(SERVER))
    with EchoServer(server_context(server_source)) as server:
        try:
            reply, _, _ = meshsec_exchange(client, server.port)
        except OSError:
            reply = b""
    assert reply == b""
    assert server.received == []
    assert len(server.errors) == 1
    assert isinstance(server.errors[0], PeerCertificateInvalid)


@needs_openssl
def test_server_with_rsa_1024_key_is_refused(tmp_path, ca, client):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    leaf = _sign(ca.certificate, ca._key, key.public_key(), uris=[SERVER])
    with pytest.raises(PeerCertificateInvalid):
        _exchange_with_openssl(tmp_path, ca, client, leaf, key, (), "-cipher", "DEFAULT@SECLEVEL=0")


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda: rsa.generate_private_key(65537, 1024), id="rsa-1024"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP192R1()), id="p-192"),
    ],
)
def test_authorize_peer_refuses_weak_keys(ca, key, events):
    # authorize_peer also serves connections whose context meshsec did not
    # build (possibly at a lower OpenSSL security level): it checks keys itself.
    private = key()
    leaf = _sign(ca.certificate, ca._key, private.public_key(), uris=[CLIENT])
    with pytest.raises(PeerCertificateInvalid):
        authorize_peer(_der(leaf), allow_trust_domain(TD), trust_domain=TD)
    assert [e.reason for e in auth_events(events)] == ["tls.peer_certificate_invalid"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda ca: certs.ca_flagged_leaf(ca, CLIENT), id="ca-true"),
        pytest.param(lambda ca: certs.leaf_with_two_uri_sans(ca, CLIENT, SERVER), id="two-uris"),
        pytest.param(lambda ca: certs.leaf_with_uri(ca, "spiffe://evil.org/a"), id="other-td"),
        pytest.param(lambda ca: certs.leaf_with_uri(ca, "https://example.org/a"), id="https-uri"),
        pytest.param(lambda ca: certs.leaf_with_uri(ca, f"spiffe://{TD}"), id="td-only"),
        pytest.param(certs.leaf_without_uri_san, id="no-uri"),
    ],
)
def test_authorize_peer_refuses_svid_violations(ca, make):
    cert, _key = make(ca)
    with pytest.raises(PeerCertificateInvalid):
        authorize_peer(_der(cert), allow_trust_domain(TD), trust_domain=TD)


def test_authorize_peer_refuses_key_cert_sign_on_a_non_ca_leaf(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    now = to_datetime(ca.clock)
    issuer_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(12345)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(CLIENT)]), critical=True
        )
        .sign(ca._key, hashes.SHA256())
    )
    with pytest.raises(PeerCertificateInvalid):
        authorize_peer(_der(leaf), allow_trust_domain(TD), trust_domain=TD)


def test_second_ca_of_same_trust_domain_is_not_trusted(ca, other_ca: CertificateAuthority):
    assert other_ca.trust_domain == ca.trust_domain
    assert other_ca.certificate.subject != ca.certificate.subject


def _leaf_with_raw_san(ca, key, san_value: bytes) -> x509.Certificate:
    """A leaf whose SAN extension holds raw DER that cryptography cannot parse."""
    now = to_datetime(system_clock)
    issuer_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(120) + 1)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, san_value),
            critical=False,
        )
        .sign(ca._key, hashes.SHA256())
    )


def _non_ia5_uri_san(uri: bytes) -> bytes:
    general_name = b"\x86" + bytes([len(uri)]) + uri
    return b"\x30" + bytes([len(general_name)]) + general_name


NON_IA5 = _non_ia5_uri_san(SERVER.encode() + b"\xff")


def test_authorize_peer_with_unparsable_san_is_typed_and_audited(ca, events):
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf_with_raw_san(ca, key, NON_IA5)
    for peer in (_der(leaf), leaf):
        with pytest.raises(PeerCertificateInvalid):
            authorize_peer(peer, allow_trust_domain(TD), trust_domain=TD)
    assert [e.reason for e in auth_events(events)] == ["tls.peer_certificate_invalid"] * 2


@needs_openssl
def test_server_with_unparsable_san_is_refused_with_a_typed_error(tmp_path, ca, client, events):
    # OpenSSL does not check the IA5 alphabet of a URI SAN, cryptography does:
    # the handshake succeeds and meshsec's check must still refuse, typed.
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf_with_raw_san(ca, key, NON_IA5)
    with pytest.raises(PeerCertificateInvalid):
        _exchange_with_openssl(tmp_path, ca, client, leaf, key)
    assert [e.reason for e in auth_events(events)] == ["tls.peer_certificate_invalid"]


def test_identity_types_refuse_unparsable_extensions(ca, tmp_path):
    from meshsec.identity import FileIdentitySource, InvalidCertificate, WorkloadIdentity

    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf_with_raw_san(ca, key, NON_IA5)
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=leaf)
    cert_path, key_path = certs.write_pem(tmp_path, "svid", leaf, key)
    bundle_path = write_chain(tmp_path / "bundle.pem", list(ca.bundle))
    with pytest.raises(InvalidCertificate):
        FileIdentitySource(cert_path, key_path, bundle_path)
