"""WorkloadIdentity: X509-SVID rules on construction, PEM round trips, key secrecy."""

from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshsec.errors import IdentityError
from meshsec.identity import (
    CertificateAuthority,
    IdentityFileError,
    InvalidCertificate,
    InvalidPassphrase,
    KeyMismatch,
    SpiffeId,
    WorkloadIdentity,
)
from meshsec.secret import Secret

from . import certs

SID = "spiffe://example.org/ns/prod/sa/orders"


@pytest.fixture(scope="module")
def module_ca() -> CertificateAuthority:
    return CertificateAuthority.create("example.org")


@pytest.fixture(scope="module")
def svid(module_ca: CertificateAuthority) -> WorkloadIdentity:
    return module_ca.issue(SID, dns_names=["localhost"])


def _key_lines(identity: WorkloadIdentity) -> list[str]:
    return identity.private_key_pem().reveal().decode().splitlines()[1:-1]


def test_fields_come_from_the_certificate(svid: WorkloadIdentity) -> None:
    assert str(svid.spiffe_id) == SID
    assert svid.not_after == svid.certificate.not_valid_after_utc
    assert svid.intermediates == ()
    assert svid.chain == (svid.certificate,)
    assert svid.dns_names == ("localhost",)
    assert svid.key_type == "ec-p256"


def test_fingerprint_matches_openssl_format(svid: WorkloadIdentity, tmp_path: Path) -> None:
    fp = svid.fingerprint_sha256
    assert len(fp.split(":")) == 32
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl binary not installed")
    (tmp_path / "c.pem").write_bytes(svid.chain_pem)
    out = subprocess.run(
        [openssl, "x509", "-in", str(tmp_path / "c.pem"), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().split("=", 1)[1] == fp


def test_pem_round_trip_plain_in_memory(svid: WorkloadIdentity) -> None:
    chain_pem, key_pem = svid.to_pem()
    assert isinstance(key_pem, Secret)
    again = WorkloadIdentity.from_pem(chain_pem, key_pem)
    assert again == svid
    assert again.spiffe_id == svid.spiffe_id


def test_pem_round_trip_encrypted(svid: WorkloadIdentity) -> None:
    chain_pem, key_pem = svid.to_pem(passphrase="pw")
    assert b"ENCRYPTED" in key_pem.reveal()
    assert WorkloadIdentity.from_pem(chain_pem, key_pem, passphrase="pw") == svid
    with pytest.raises(InvalidPassphrase):
        WorkloadIdentity.from_pem(chain_pem, key_pem, passphrase="nope")
    with pytest.raises(InvalidPassphrase):
        WorkloadIdentity.from_pem(chain_pem, key_pem)


def test_save_always_encrypts_and_restricts_the_key(svid: WorkloadIdentity, tmp_path: Path) -> None:
    cert_path, key_path = tmp_path / "svid.pem", tmp_path / "svid.key"
    svid.save(cert_path, key_path, passphrase="pw")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert WorkloadIdentity.load(cert_path, key_path, passphrase="pw") == svid


def test_save_without_a_passphrase_writes_nothing(svid: WorkloadIdentity, tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        svid.save(tmp_path / "a.pem", tmp_path / "a.key")  # type: ignore[call-arg]
    with pytest.raises(InvalidPassphrase):
        svid.save(tmp_path / "a.pem", tmp_path / "a.key", passphrase="")
    assert list(tmp_path.iterdir()) == []


def test_load_accepts_plaintext_keys_written_by_agents(
    svid: WorkloadIdentity, tmp_path: Path
) -> None:
    # SPIRE and cert-manager write traditional "EC PRIVATE KEY" or PKCS#8 plaintext.
    cert_path = tmp_path / "svid.pem"
    cert_path.write_bytes(svid.chain_pem)
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        key_path = tmp_path / "svid.key"
        key_path.write_bytes(
            svid.private_key.private_bytes(
                serialization.Encoding.PEM, fmt, serialization.NoEncryption()
            )
        )
        assert WorkloadIdentity.load(cert_path, key_path) == svid


def test_load_missing_file_is_typed(tmp_path: Path) -> None:
    with pytest.raises(IdentityFileError):
        WorkloadIdentity.load(tmp_path / "no.pem", tmp_path / "no.key")


def test_mismatched_key_is_refused(svid: WorkloadIdentity) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyMismatch):
        WorkloadIdentity(private_key=other, certificate=svid.certificate)


def test_leaf_without_uri_san_is_refused(module_ca: CertificateAuthority) -> None:
    cert, key = certs.leaf_without_uri_san(module_ca)
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=cert)


def test_leaf_with_two_uri_sans_is_refused(module_ca: CertificateAuthority) -> None:
    cert, key = certs.leaf_with_two_uri_sans(module_ca, SID, "spiffe://example.org/admin")
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=cert)


def test_leaf_with_non_spiffe_uri_is_refused(module_ca: CertificateAuthority) -> None:
    cert, key = certs.leaf_with_uri(module_ca, "https://example.org/orders")
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=cert)


def test_ca_flagged_leaf_is_refused(module_ca: CertificateAuthority) -> None:
    # X509-SVID: a leaf must not be able to sign certificates for others.
    cert, key = certs.ca_flagged_leaf(module_ca, SID)
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=cert)


def test_expired_leaf_is_still_a_value(module_ca: CertificateAuthority) -> None:
    # Expiry is judged by sources and peers at use time, not by the value type.
    cert, key = certs.expired_leaf(module_ca, SID)
    assert (
        WorkloadIdentity(private_key=key, certificate=cert).spiffe_id.path == "/ns/prod/sa/orders"
    )


def test_intermediates_must_be_certificates(svid: WorkloadIdentity) -> None:
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(
            private_key=svid.private_key,
            certificate=svid.certificate,
            intermediates=["not a cert"],  # type: ignore[list-item]
        )


def test_identity_is_immutable(svid: WorkloadIdentity) -> None:
    with pytest.raises(AttributeError):
        svid.certificate = svid.certificate  # type: ignore[misc]


def test_repr_never_shows_the_private_key(svid: WorkloadIdentity) -> None:
    text = repr(svid) + str(svid) + f"{svid}"
    assert SID in text
    assert "PRIVATE" not in text
    for line in _key_lines(svid):
        assert line not in text
    assert repr(svid.private_key_pem()) == "Secret('[REDACTED]')"


def test_to_pem_key_is_wrapped_in_a_secret(svid: WorkloadIdentity) -> None:
    _, key_pem = svid.to_pem()
    assert str(key_pem) == "[REDACTED]"


@given(st.binary(max_size=400), st.binary(max_size=400))
def test_garbage_pem_raises_only_identity_errors(chain: bytes, key: bytes) -> None:
    with pytest.raises(IdentityError):
        WorkloadIdentity.from_pem(chain, key)


@given(st.text(max_size=200))
def test_garbage_inside_pem_armour_raises_only_identity_errors(body: str) -> None:
    chain = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    key = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    with pytest.raises(IdentityError):
        WorkloadIdentity.from_pem(chain, key)


def test_identity_cannot_be_pickled(svid: WorkloadIdentity) -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(svid)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.text(
            alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([None, "pass", b"\x00\xffbytes"]),
)
def test_issue_then_pem_round_trips(
    module_ca: CertificateAuthority, segments: list[str], passphrase: str | bytes | None
) -> None:
    sid = SpiffeId.from_parts("example.org", *segments)
    identity = module_ca.issue(sid, ttl=timedelta(minutes=5))
    chain_pem, key_pem = identity.to_pem(passphrase=passphrase)
    again = WorkloadIdentity.from_pem(chain_pem, key_pem, passphrase=passphrase)
    assert again == identity
    assert again.spiffe_id == sid


def test_plaintext_key_whose_body_spells_encrypted_still_loads(svid: WorkloadIdentity) -> None:
    # Encryption is read from the PEM headers, not from a substring anywhere.
    chain_pem, key_pem = svid.to_pem()
    doctored = b"notes: not ENCRYPTED at all\n" + key_pem.reveal()
    assert WorkloadIdentity.from_pem(chain_pem, doctored) == svid


def test_leaf_with_crl_sign_is_refused(module_ca: CertificateAuthority) -> None:
    from cryptography import x509 as _x509
    from cryptography.hazmat.primitives import hashes

    good, key = certs.custom_leaf(module_ca, uris=[SID])
    usage = _x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        _x509.CertificateBuilder()
        .subject_name(good.subject)
        .issuer_name(good.issuer)
        .public_key(key.public_key())
        .serial_number(good.serial_number)
        .not_valid_before(good.not_valid_before_utc)
        .not_valid_after(good.not_valid_after_utc)
    )
    for ext in good.extensions:
        value = usage if isinstance(ext.value, _x509.KeyUsage) else ext.value
        builder = builder.add_extension(value, critical=ext.critical)
    cert = builder.sign(module_ca._key, hashes.SHA256())
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=cert)
