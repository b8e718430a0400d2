"""Red-team attacks on SPIFFE IDs, the CA, identity files and sources."""

from __future__ import annotations

import base64
import os
import pickle
import threading
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import IdentityError, MeshsecError
from meshsec.identity import (
    CertificateAuthority,
    FileIdentitySource,
    InvalidCertificate,
    InvalidPassphrase,
    InvalidSpiffeId,
    InvalidTTL,
    SpiffeId,
    TrustDomainMismatch,
    WorkloadIdentity,
)
from meshsec.identity._chain import check_validity
from meshsec.identity._errors import CertificateExpired, IdentityFileError, UnsupportedKeyType
from tests.identity.conftest import TD

ORDERS = "spiffe://example.org/ns/prod/sa/orders"


@pytest.mark.parametrize(
    "text",
    [
        "SPIFFE://example.org/a",
        "spiffe:/example.org/a",
        "spiffe:example.org/a",
        "spiffe://EXAMPLE.org/a",
        "spiffe://example.org/a/",
        "spiffe://example.org//a",
        "spiffe://ex%61mple.org/a",
        "spiffe://example.org/a%2fb",
        "spiffe://[::1]/a",
        "spiffe://example.org:8443/a",
        "spiffe://user@example.org/a",
        "spiffe://example.org/a?q=1",
        "spiffe://example.org/a#f",
        "spiffe://example.org/./a",
        "spiffe://example.org/a/..",
        "spiffe://ex\u0430mple.org/a",  # Cyrillic a
        "spiffe://xn--exmple-cua.org/a\u200b",
        "spiffe://example.org/a\x00",
        " spiffe://example.org/a",
        "spiffe://example.org/a\n",
        "spiffe://example.org/\uff41",  # fullwidth: NFKC would make it 'a'
        "spiffe://",
        "spiffe:///a",
    ],
)
def test_spec_violations_are_refused_without_echo(text):
    with pytest.raises(InvalidSpiffeId) as info:
        SpiffeId.parse(text)
    assert text not in str(info.value)
    assert isinstance(info.value, IdentityError)


def test_length_limit_is_exactly_2048_bytes():
    head = "spiffe://example.org/"
    assert len(str(SpiffeId.parse(head + "a" * (2048 - len(head))))) == 2048
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.parse(head + "a" * (2049 - len(head)))
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.from_parts("example.org", "a" * 2048)


@pytest.mark.parametrize("value", [b"spiffe://example.org/a", None, 1, ["spiffe://e/a"]])
def test_non_text_is_typed(value):
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.parse(value)


def test_str_subclass_with_lying_eq_cannot_impersonate_a_trust_domain():
    class Liar(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    sid = SpiffeId(Liar("evil.org"), Liar("/a"))
    assert type(sid.trust_domain) is str
    assert type(sid.path) is str
    assert sid != SpiffeId.parse("spiffe://example.org/a")
    assert not sid.is_member_of("example.org")


@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_invalid_spiffe_id(text):
    try:
        sid = SpiffeId.parse(text)
    except InvalidSpiffeId:
        return
    assert str(sid) == text


_seg = st.text("abcXYZ019._-", min_size=1, max_size=12).filter(lambda s: s not in {".", ".."})


@given(st.text("abcz09.-_", min_size=1, max_size=30), st.lists(_seg, max_size=6))
def test_from_parts_parse_round_trip(trust_domain, segments):
    sid = SpiffeId.from_parts(trust_domain, *segments)
    assert SpiffeId.parse(str(sid)) == sid
    assert sid.segments == tuple(segments)


# -- CA --------------------------------------------------------------------


def _csr(key, *, extensions=()):
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(key, hashes.SHA256())


def test_sign_csr_ignores_requested_sans_ca_powers_and_subject(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = _csr(
        key,
        extensions=[
            (
                x509.SubjectAlternativeName(
                    [
                        x509.UniformResourceIdentifier("spiffe://example.org/admin"),
                        x509.DNSName("evil.example"),
                    ]
                ),
                False,
            ),
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        ],
    )
    cert = ca.sign_csr(csr.public_bytes(serialization.Encoding.PEM), ORDERS)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in san] == [ORDERS]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert cert.subject == x509.Name([])


def test_sign_csr_with_broken_signature_is_refused_and_audited(ca, events):
    der = bytearray(
        _csr(ec.generate_private_key(ec.SECP256R1())).public_bytes(serialization.Encoding.DER)
    )
    der[-5] ^= 0x01  # inside the signature
    pem = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der))
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    with pytest.raises(InvalidCertificate):
        ca.sign_csr(pem, ORDERS)
    failures = [e for e in events if e.action == "sign_csr"]
    assert [e.reason for e in failures] == ["identity.invalid_certificate"]


def test_sign_csr_with_weak_rsa_key_is_refused(ca):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UnsupportedKeyType):
        ca.sign_csr(_csr(weak).public_bytes(serialization.Encoding.PEM), ORDERS)


@pytest.mark.parametrize("csr", [b"", b"garbage", "\udcff", 42])
def test_sign_csr_garbage_is_typed(ca, csr):
    with pytest.raises(InvalidCertificate):
        ca.sign_csr(csr, ORDERS)


def test_issue_outside_trust_domain_and_beyond_ca_validity(ca, events):
    with pytest.raises(TrustDomainMismatch):
        ca.issue("spiffe://example.org.evil/ns/a")
    with pytest.raises(InvalidTTL):
        ca.issue(ORDERS, ttl=timedelta(days=366))
    with pytest.raises(InvalidTTL):
        ca.issue(ORDERS, ttl=timedelta.max)
    with pytest.raises(InvalidTTL):
        ca.issue(ORDERS, ttl=3600)  # type: ignore[arg-type]
    assert [e.reason for e in events if e.action == "issue"] == [
        "identity.trust_domain_mismatch",
        "identity.invalid_ttl",
        "identity.invalid_ttl",
        "identity.invalid_ttl",
    ]


def test_ca_save_load_wrong_passphrase_and_tampering(ca, tmp_path):
    folder = tmp_path / "ca"
    ca.save(folder, passphrase="correct horse")
    assert (folder / "ca.key").stat().st_mode & 0o077 == 0
    assert b"ENCRYPTED PRIVATE KEY" in (folder / "ca.key").read_bytes()
    with pytest.raises(InvalidPassphrase) as info:
        CertificateAuthority.load(folder, passphrase="wrong")
    assert "correct horse" not in str(info.value)
    good = (folder / "ca.key").read_bytes()
    (folder / "ca.key").write_bytes(good[:60] + good[61:])
    with pytest.raises(MeshsecError):
        CertificateAuthority.load(folder, passphrase="correct horse")
    (folder / "ca.key").write_bytes(good)
    other = CertificateAuthority.create(TD)
    (folder / "ca.pem").write_bytes(other.bundle.to_pem())
    with pytest.raises(MeshsecError):
        CertificateAuthority.load(folder, passphrase="correct horse")


def test_ca_and_identity_cannot_be_pickled_or_leak_keys(ca):
    identity = ca.issue(ORDERS)
    for obj in (ca, identity):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
        assert "PRIVATE" not in repr(obj)
    key = identity.private_key_pem()
    assert "PRIVATE" not in repr(key)
    assert "PRIVATE" not in str(key)


# -- validity and files --------------------------------------------------------


def test_identity_validity_boundary_is_half_open(ca):
    cert = ca.issue(ORDERS).certificate
    check_validity(cert, cert.not_valid_before_utc)
    with pytest.raises(CertificateExpired):
        check_validity(cert, cert.not_valid_after_utc)


def _write_agent_files(ca, folder):
    identity = ca.issue(ORDERS)
    cert, key = folder / "svid.pem", folder / "svid.key"
    cert.write_bytes(identity.chain_pem)
    key.write_bytes(identity.private_key_pem().reveal())
    bundle = folder / "bundle.pem"
    bundle.write_bytes(ca.bundle.to_pem())
    return identity, cert, key, bundle


def test_fifo_planted_instead_of_a_pem_file_does_not_hang(ca, clock, tmp_path):
    identity, cert, key, bundle = _write_agent_files(ca, tmp_path)
    source = FileIdentitySource(cert, key, bundle, clock=clock)
    cert.unlink()
    os.mkfifo(cert)
    done = threading.Event()
    result: list[object] = []

    def poll() -> None:
        result.append(source.poll())
        done.set()

    worker = threading.Thread(target=poll, daemon=True)
    worker.start()
    assert done.wait(5), "poll blocked on a FIFO"
    assert result == [False]
    assert source.identity == identity
    with pytest.raises(IdentityFileError):
        FileIdentitySource(cert, key, bundle, clock=clock)


def test_huge_truncated_and_mismatched_files_keep_the_last_good_identity(ca, clock, tmp_path):
    identity, cert, key, bundle = _write_agent_files(ca, tmp_path)
    source = FileIdentitySource(cert, key, bundle, clock=clock)
    good = cert.read_bytes()
    for bad in (good * 2000, good[: len(good) // 2], b"\x00" * 100):
        cert.write_bytes(bad)
        assert source.poll() is False
        assert source.identity == identity
    other = ca.issue(ORDERS)
    cert.write_bytes(other.chain_pem)  # the key file still holds the old key
    assert source.poll() is False
    assert source.identity == identity


def test_symlink_swap_to_another_ca_identity_is_refused(ca, clock, tmp_path):
    identity, cert, key, bundle = _write_agent_files(ca, tmp_path)
    source = FileIdentitySource(cert, key, bundle, clock=clock)
    rogue = CertificateAuthority.create(TD, clock=clock).issue(ORDERS)
    (tmp_path / "rogue.pem").write_bytes(rogue.chain_pem)
    (tmp_path / "rogue.key").write_bytes(rogue.private_key_pem().reveal())
    cert.unlink()
    key.unlink()
    cert.symlink_to(tmp_path / "rogue.pem")
    key.symlink_to(tmp_path / "rogue.key")
    assert source.poll() is False
    assert source.identity == identity


def test_workload_identity_refuses_ca_leaf_and_foreign_key(ca):
    from tests.identity.certs import ca_flagged_leaf

    cert, key = ca_flagged_leaf(ca, ORDERS)
    with pytest.raises(InvalidCertificate):
        WorkloadIdentity(private_key=key, certificate=cert)
    good = ca.issue(ORDERS)
    with pytest.raises(MeshsecError):
        WorkloadIdentity(
            private_key=ec.generate_private_key(ec.SECP256R1()), certificate=good.certificate
        )


@pytest.mark.parametrize(
    "interval", [0, -1, float("nan"), float("inf"), 1e300, True, "5", timedelta(0)]
)
def test_file_source_poll_interval_must_be_positive_and_finite(ca, clock, tmp_path, interval):
    from meshsec.errors import ConfigError

    _identity, cert, key, bundle = _write_agent_files(ca, tmp_path)
    with pytest.raises(ConfigError):
        FileIdentitySource(cert, key, bundle, poll_interval=interval, clock=clock)


@pytest.mark.parametrize("renew_at", [0, 1, 1.5, -0.1, float("nan"), True, "0.5", None])
def test_ca_source_renew_at_is_a_fraction(ca, renew_at):
    from meshsec.errors import ConfigError
    from meshsec.identity import CaIdentitySource

    with pytest.raises(ConfigError):
        CaIdentitySource(ca, ORDERS, renew_at=renew_at)


@pytest.mark.parametrize("interval", [0, float("nan"), float("inf"), "1"])
def test_ca_source_check_interval_is_positive_and_finite(ca, interval):
    from meshsec.errors import ConfigError
    from meshsec.identity import CaIdentitySource

    source = CaIdentitySource(ca, ORDERS)
    with pytest.raises(ConfigError):
        source.start(check_interval=interval)
    source.stop()


def test_identity_failure_events_always_carry_a_correlation_id(ca, events):
    from meshsec import correlation

    for _ in range(2):
        with pytest.raises(TrustDomainMismatch):
            ca.issue("spiffe://other.org/ns/a")
    first, second = (e for e in events if e.action == "issue")
    assert first.correlation_id
    assert second.correlation_id
    assert first.correlation_id != second.correlation_id  # unrelated refusals
    request = correlation.CorrelationContext.new()
    with correlation.bind(request), pytest.raises(InvalidTTL):
        ca.issue(ORDERS, ttl=timedelta(0))
    assert events[-1].correlation_id == request.correlation_id
    assert events[-1].reason == "identity.invalid_ttl"


def test_rejected_rotation_is_audited_once_with_correlation_id(ca, clock, tmp_path, events):
    _identity, cert, key, bundle = _write_agent_files(ca, tmp_path)
    source = FileIdentitySource(cert, key, bundle, clock=clock)
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    for _ in range(3):
        assert source.poll() is False
    failures = [e for e in events if e.action == "rotate" and e.reason]
    assert [e.reason for e in failures] == ["identity.invalid_certificate"]
    assert failures[0].correlation_id
    assert "PRIVATE" not in repr(failures[0])


@pytest.mark.parametrize(
    "build",
    [
        lambda: SpiffeId.parse("spiffe://example.org/" + "a/" * 2_000_000 + "a"),
        lambda: SpiffeId.parse("spiffe://" + "a" * 4_000_000),
        lambda: SpiffeId("example.org", "/a" * 2_000_000),
        lambda: SpiffeId.from_parts("example.org", *(["a"] * 200_000)),
    ],
)
def test_huge_ids_are_refused_before_any_scan(build, monkeypatch):
    # Refused on length alone: neither the shape regex nor the per-segment
    # validation may run over a hostile megabyte (it took seconds before).
    from meshsec.identity import _spiffe

    class Untouchable:
        def fullmatch(self, _text):
            raise AssertionError("scanned a huge ID")

    def no_segments(_segment):
        raise AssertionError("validated segments of a huge ID")

    monkeypatch.setattr(_spiffe, "_VALID_SHAPE", Untouchable())
    monkeypatch.setattr(_spiffe, "_validate_segment", no_segments)
    with pytest.raises(InvalidSpiffeId):
        build()
