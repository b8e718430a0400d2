"""CertificateAuthority: what it issues, what it refuses, how it is stored."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import DNSName, PolicyBuilder, Store

from meshsec.clock import FrozenClock, to_datetime
from meshsec.identity import (
    CertificateAuthority,
    IdentityFileError,
    InvalidCertificate,
    InvalidPassphrase,
    InvalidSpiffeId,
    InvalidTTL,
    KeyMismatch,
    SpiffeId,
    TrustDomainMismatch,
    UnsupportedKeyType,
    WorkloadIdentity,
)
from meshsec.secret import Secret

from .conftest import TD

SID = "spiffe://example.org/ns/prod/sa/orders"


def _ext(cert: x509.Certificate, cls: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(cls)


# -- the root ------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["ec-p256", "ed25519", "rsa-3072"])
def test_root_is_a_self_signed_spiffe_ca(key_type: str) -> None:
    ca = CertificateAuthority.create(TD, key_type=key_type)  # type: ignore[arg-type]
    root = ca.certificate
    assert ca.key_type == key_type
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    basic = _ext(root, x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca
    usage = _ext(root, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    _ext(root, x509.SubjectKeyIdentifier)
    uris = _ext(root, x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    assert uris == ["spiffe://example.org"]
    assert ca.bundle.certificates == (root,)
    assert ca.bundle.trust_domain == TD
    assert ca.id == SpiffeId.for_trust_domain(TD)


def test_two_roots_of_one_domain_have_distinct_names() -> None:
    a, b = CertificateAuthority.create(TD), CertificateAuthority.create(TD)
    assert a.certificate.subject != b.certificate.subject


def test_create_accepts_trust_domain_as_spiffe_uri() -> None:
    assert CertificateAuthority.create("spiffe://example.org").trust_domain == TD


@pytest.mark.parametrize("td", ["", "Example.org", "example.org:443", "spiffe://example.org/a"])
def test_create_refuses_bad_trust_domains(td: str) -> None:
    with pytest.raises(InvalidSpiffeId):
        CertificateAuthority.create(td)


def test_create_refuses_unknown_key_type() -> None:
    with pytest.raises(UnsupportedKeyType):
        CertificateAuthority.create(TD, key_type="dsa-1024")  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1), 3600, timedelta.max])
def test_create_refuses_bad_ttl(ttl: object) -> None:
    with pytest.raises(InvalidTTL):
        CertificateAuthority.create(TD, ttl=ttl)  # type: ignore[arg-type]


# -- issued leaves -----------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["ec-p256", "ed25519", "rsa-3072"])
def test_leaf_carries_the_x509_svid_profile(ca: CertificateAuthority, key_type: str) -> None:
    svid = ca.issue(SID, dns_names=["localhost"], key_type=key_type)  # type: ignore[arg-type]
    leaf = svid.certificate
    assert svid.key_type == key_type
    assert str(svid.spiffe_id) == SID
    san = _ext(leaf, x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [SID]
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.critical  # the subject is empty (RFC 5280 section 4.2.1.6)
    assert leaf.subject == x509.Name([])
    basic = _ext(leaf, x509.BasicConstraints)
    assert basic.critical
    assert not basic.value.ca
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    assert usage.value.key_encipherment == (key_type == "rsa-3072")
    eku = _ext(leaf, x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    ski = _ext(leaf, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(svid.private_key.public_key())
    aki = _ext(leaf, x509.AuthorityKeyIdentifier).value
    root_ski = _ext(ca.certificate, x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    leaf.verify_directly_issued_by(ca.certificate)


def test_leaf_serials_are_random_positive_128_bit(ca: CertificateAuthority) -> None:
    serials = {ca.issue(SID).serial_number for _ in range(20)}
    assert len(serials) == 20
    assert all(0 < s < 2**128 for s in serials)
    assert max(serials).bit_length() > 120  # not a counter


def test_leaf_validity_starts_in_the_past_and_lasts_ttl(
    ca: CertificateAuthority, clock: FrozenClock
) -> None:
    clock.advance(timedelta(hours=1))
    now = to_datetime(clock)
    svid = ca.issue(SID, ttl=timedelta(minutes=10))
    assert svid.not_before == now - timedelta(seconds=60)
    assert svid.not_after == now + timedelta(minutes=10)


def test_leaf_never_starts_before_the_ca(ca: CertificateAuthority) -> None:
    svid = ca.issue(SID)
    assert svid.not_before >= ca.certificate.not_valid_before_utc


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-3072"])
def test_issued_chain_passes_strict_rfc5280_verifiers(key_type: str, tmp_path: Path) -> None:
    # cryptography's verifier is as strict as Go and rustls (AKI required, ...).
    ca = CertificateAuthority.create(TD, key_type=key_type)  # type: ignore[arg-type]
    svid = ca.issue(SID, dns_names=["localhost"], key_type=key_type)  # type: ignore[arg-type]
    store = Store(list(ca.bundle.certificates))
    client = PolicyBuilder().store(store).build_client_verifier()
    verified = client.verify(svid.certificate, list(svid.intermediates))
    assert x509.UniformResourceIdentifier(SID) in verified.subjects
    server = PolicyBuilder().store(store).build_server_verifier(DNSName("localhost"))
    chain = server.verify(svid.certificate, list(svid.intermediates))
    assert chain[-1] == ca.certificate


def test_chain_from_another_ca_fails_strict_verification(ca: CertificateAuthority) -> None:
    other = CertificateAuthority.create(TD)
    svid = other.issue(SID)
    store = Store(list(ca.bundle.certificates))
    with pytest.raises(x509.verification.VerificationError):
        PolicyBuilder().store(store).build_client_verifier().verify(svid.certificate, [])


def test_issue_refuses_other_trust_domain(ca: CertificateAuthority) -> None:
    with pytest.raises(TrustDomainMismatch):
        ca.issue("spiffe://evil.example/ns/prod")


def test_issue_refuses_the_trust_domain_id_itself(ca: CertificateAuthority) -> None:
    # A leaf named spiffe://td would impersonate the signing authority.
    with pytest.raises(InvalidSpiffeId):
        ca.issue("spiffe://example.org")


@pytest.mark.parametrize("bad", ["spiffe://example.org/a/../b", "example.org/a", "", None])
def test_issue_refuses_invalid_spiffe_ids(ca: CertificateAuthority, bad: object) -> None:
    with pytest.raises(InvalidSpiffeId):
        ca.issue(bad)  # type: ignore[arg-type]


def test_issue_refuses_ttl_beyond_ca_validity(clock: FrozenClock) -> None:
    ca = CertificateAuthority.create(TD, ttl=timedelta(days=1), clock=clock)
    with pytest.raises(InvalidTTL):
        ca.issue(SID, ttl=timedelta(days=2))
    clock.advance(timedelta(hours=23, minutes=30))
    with pytest.raises(InvalidTTL):
        ca.issue(SID, ttl=timedelta(hours=1))
    assert ca.issue(SID, ttl=timedelta(minutes=20)).not_after <= ca.not_after


def test_expired_ca_issues_nothing(clock: FrozenClock) -> None:
    ca = CertificateAuthority.create(TD, ttl=timedelta(days=1), clock=clock)
    clock.advance(timedelta(days=2))
    with pytest.raises(InvalidTTL):
        ca.issue(SID, ttl=timedelta(seconds=1))


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), 60, None, timedelta.max])
def test_issue_refuses_non_positive_or_untyped_ttl(ca: CertificateAuthority, ttl: object) -> None:
    with pytest.raises(InvalidTTL):
        ca.issue(SID, ttl=ttl)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "names",
    [
        "localhost",
        ["bad name"],
        ["caf\u00e9.example"],
        [""],
        [1],
        ["localhost\n"],
        ["*.example.org"],
        ["127.0.0.1"],
        ["-lead.example"],
        ["a..b"],
        ["a" * 64 + ".example"],
    ],
)
def test_issue_refuses_bad_dns_names(ca: CertificateAuthority, names: object) -> None:
    with pytest.raises(InvalidCertificate):
        ca.issue(SID, dns_names=names)  # type: ignore[arg-type]


def test_issue_refusals_are_audited(ca: CertificateAuthority, events: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(TrustDomainMismatch):
        ca.issue(SpiffeId.parse("spiffe://evil.example/x"))
    assert len(events) == 1
    assert events[0].reason == "identity.trust_domain_mismatch"
    assert events[0].target == "spiffe://evil.example/x"


def test_issue_is_audited_without_secrets(ca: CertificateAuthority, events: list) -> None:  # type: ignore[type-arg]
    svid = ca.issue(SID)
    assert len(events) == 1
    event = events[0]
    assert event.action == "issue"
    assert event.target == SID
    assert event.attributes["serial"] == f"{svid.serial_number:x}"
    key_pem = svid.private_key_pem().reveal().decode()
    assert key_pem.splitlines()[1] not in repr(event)


# -- CSR signing ---------------------------------------------------------------------


def _csr(key: ec.EllipticCurvePrivateKey, uri: str = "spiffe://evil.example/admin") -> bytes:
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_sign_csr_keeps_the_workload_key_and_ignores_requested_names(
    ca: CertificateAuthority,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.sign_csr(_csr(key), SID, ttl=timedelta(minutes=5))
    assert cert.public_key() == key.public_key()
    sans = _ext(cert, x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [SID]
    assert not _ext(cert, x509.BasicConstraints).value.ca
    assert cert.subject == x509.Name([])
    cert.verify_directly_issued_by(ca.certificate)


def test_sign_csr_refuses_a_tampered_csr(ca: CertificateAuthority) -> None:
    # Proof of possession: a CSR whose signature does not verify is refused.
    key = ec.generate_private_key(ec.SECP256R1())
    good = x509.load_pem_x509_csr(_csr(key))
    other = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(good.subject)
        .sign(other, hashes.SHA256())
    )
    # Splice the victim's public key into a CSR signed by someone else.
    der = bytearray(forged.public_bytes(serialization.Encoding.DER))
    theirs = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    victim = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    start = bytes(der).index(theirs)
    der[start : start + len(theirs)] = victim
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(InvalidCertificate):
        ca.sign_csr(tampered, SID)


@pytest.mark.parametrize("junk", [b"", b"not a csr", b"-----BEGIN CERTIFICATE REQUEST-----\n!!\n"])
def test_sign_csr_refuses_garbage(ca: CertificateAuthority, junk: bytes) -> None:
    with pytest.raises(InvalidCertificate):
        ca.sign_csr(junk, SID)


def test_sign_csr_refuses_weak_keys(ca: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(UnsupportedKeyType):
        ca.sign_csr(csr, SID)


def test_sign_csr_refuses_other_trust_domain(ca: CertificateAuthority) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(TrustDomainMismatch):
        ca.sign_csr(_csr(key), "spiffe://evil.example/admin")


# -- persistence -----------------------------------------------------------------------


def test_save_and_load_round_trip(
    ca: CertificateAuthority, clock: FrozenClock, tmp_path: Path
) -> None:
    ca.save(tmp_path / "ca", passphrase="correct horse")
    loaded = CertificateAuthority.load(
        tmp_path / "ca", passphrase=Secret("correct horse"), clock=clock
    )
    assert loaded.certificate == ca.certificate
    assert loaded.trust_domain == TD
    svid = loaded.issue(SID)
    svid.certificate.verify_directly_issued_by(ca.certificate)


def test_saved_key_is_encrypted_and_owner_only(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.save(tmp_path, passphrase=b"correct horse")
    key_file = tmp_path / "ca.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(key_file.read_bytes(), password=None)


def test_load_with_wrong_passphrase_is_a_typed_error(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    ca.save(tmp_path, passphrase="correct horse")
    with pytest.raises(InvalidPassphrase) as info:
        CertificateAuthority.load(tmp_path, passphrase="wrong horse")
    assert "correct horse" not in str(info.value)
    assert "wrong horse" not in str(info.value)


@pytest.mark.parametrize("empty", ["", b"", Secret("")])
def test_empty_passphrase_is_refused(
    ca: CertificateAuthority, tmp_path: Path, empty: object
) -> None:
    with pytest.raises(InvalidPassphrase):
        ca.save(tmp_path, passphrase=empty)  # type: ignore[arg-type]
    assert not (tmp_path / "ca.key").exists()


def test_plaintext_ca_key_on_disk_is_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.save(tmp_path, passphrase="pw")
    (tmp_path / "ca.key").write_bytes(
        ca._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InvalidPassphrase):
        CertificateAuthority.load(tmp_path, passphrase="pw")


def test_save_does_not_overwrite_without_being_told(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    ca.save(tmp_path, passphrase="pw")
    other = CertificateAuthority.create(TD)
    with pytest.raises(IdentityFileError):
        other.save(tmp_path, passphrase="pw")
    assert CertificateAuthority.load(tmp_path, passphrase="pw").certificate == ca.certificate
    other.save(tmp_path, passphrase="pw", overwrite=True)
    assert CertificateAuthority.load(tmp_path, passphrase="pw").certificate == other.certificate


def test_load_missing_directory_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(IdentityFileError):
        CertificateAuthority.load(tmp_path / "nope", passphrase="pw")


def test_load_refuses_mismatched_key(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.save(tmp_path / "a", passphrase="pw")
    CertificateAuthority.create(TD).save(tmp_path / "b", passphrase="pw")
    os.replace(tmp_path / "b" / "ca.key", tmp_path / "a" / "ca.key")
    with pytest.raises(KeyMismatch):
        CertificateAuthority.load(tmp_path / "a", passphrase="pw")


def test_constructor_refuses_a_leaf_as_ca(ca: CertificateAuthority) -> None:
    svid = ca.issue(SID)
    with pytest.raises(InvalidCertificate):
        CertificateAuthority(certificate=svid.certificate, private_key=svid.private_key)


# -- secrecy ---------------------------------------------------------------------------


def test_ca_repr_never_shows_the_key(ca: CertificateAuthority) -> None:
    key_pem = ca._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    text = repr(ca) + str(ca)
    assert "example.org" in text
    for line in key_pem.splitlines()[1:-1]:
        assert line not in text
    assert "PRIVATE" not in text


def test_ca_cannot_be_pickled(ca: CertificateAuthority) -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(ca)


def test_key_types_sign_with_the_keys_own_algorithm() -> None:
    ed = CertificateAuthority.create(TD, key_type="ed25519")
    assert isinstance(ed.certificate.public_key(), ed25519.Ed25519PublicKey)
    assert ed.certificate.signature_hash_algorithm is None
    ecca = CertificateAuthority.create(TD)
    assert isinstance(ecca.certificate.signature_hash_algorithm, hashes.SHA256)


def test_issued_identity_passes_the_full_constructor_checks(ca: CertificateAuthority) -> None:
    # issue() skips re-checking what it has just built; the checked path must agree.
    svid = ca.issue(SID, dns_names=["localhost"])
    checked = WorkloadIdentity(private_key=svid.private_key, certificate=svid.certificate)
    assert checked == svid
    assert checked.spiffe_id == svid.spiffe_id
    assert checked.not_after == svid.not_after
    assert checked.intermediates == svid.intermediates == ()


def test_plain_dns_names_are_accepted(ca: CertificateAuthority) -> None:
    svid = ca.issue(SID, dns_names=["localhost", "orders.prod.svc.cluster.local", "a-1.b2"])
    assert svid.dns_names == ("localhost", "orders.prod.svc.cluster.local", "a-1.b2")
