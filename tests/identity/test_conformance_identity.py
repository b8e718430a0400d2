"""Conformance with issue 6: every identity name called exactly as the issue writes it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError, IdentityError, MeshsecError
from meshsec.identity import (
    CaIdentitySource,
    CertificateAuthority,
    FileIdentitySource,
    IdentitySource,
    InvalidSpiffeId,
    InvalidTTL,
    SpiffeId,
    StaticIdentitySource,
    TrustBundle,
    TrustDomainMismatch,
    WorkloadIdentity,
)

SID = "spiffe://example.org/ns/prod/sa/orders"


# -- SpiffeId ------------------------------------------------------------------


def test_spiffe_id_parse_trust_domain_path_and_str():
    sid = SpiffeId.parse(SID)
    assert sid.trust_domain == "example.org"
    assert sid.path == "/ns/prod/sa/orders"
    assert str(sid) == SID


def test_invalid_spiffe_id_is_an_identity_error_with_stable_code():
    assert issubclass(InvalidSpiffeId, IdentityError)
    with pytest.raises(InvalidSpiffeId) as info:
        SpiffeId.parse("https://example.org/x")
    assert info.value.code == "identity.invalid_spiffe_id"


@pytest.mark.parametrize(
    "text",
    [
        "spiffe://Example.org/a",  # uppercase trust domain
        "spiffe://example.org/a//b",  # empty segment
        "spiffe://example.org/a/./b",
        "spiffe://example.org/a/../b",
        "spiffe://example.org/a?x=1",
        "spiffe://example.org/a#frag",
        "spiffe://example.org:443/a",
        "spiffe://user@example.org/a",
        "spiffe://example.org/a/",  # trailing slash
        "spiffe://example.org/a%20b",  # percent-encoding is not a segment character
        "SPIFFE://example.org/a",
        "spiffe:///a",
        "spiffe://example.org/" + "a" * 2048,
    ],
)
def test_spec_violations_raise_invalid_spiffe_id(text):
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.parse(text)


def test_spiffe_id_at_2048_bytes_is_accepted():
    prefix = "spiffe://example.org/"
    text = prefix + "a" * (2048 - len(prefix))
    assert str(SpiffeId.parse(text)) == text


@given(st.text(max_size=300))
def test_spiffe_id_parse_never_raises_anything_but_invalid_spiffe_id(text):
    try:
        sid = SpiffeId.parse(text)
    except InvalidSpiffeId:
        return
    assert SpiffeId.parse(str(sid)) == sid


# -- CertificateAuthority --------------------------------------------------------


@pytest.mark.parametrize("key_type", ["ec-p256", "ed25519", "rsa-3072"])
def test_ca_create_with_each_key_type_issues_verifiable_leaves(key_type):
    ca = CertificateAuthority.create("example.org", key_type=key_type)
    svid = ca.issue(SID)
    assert isinstance(svid, WorkloadIdentity)
    assert svid.key_type == "ec-p256"  # key_type picks the CA's key, not the leaf's
    if key_type != "ed25519":  # the Web PKI policy of cryptography's verifier bans Ed25519
        _verify_strictly(ca, svid.certificate)


def _verify_strictly(ca: CertificateAuthority, leaf: x509.Certificate) -> None:
    # cryptography's RFC 5280 verifier is as strict as Go's and rustls: it
    # refuses a leaf without AKI or a root without SKI.
    store = Store(list(ca.bundle))
    verifier = PolicyBuilder().store(store).build_client_verifier()
    verifier.verify(leaf, [])


def test_issue_default_ttl_is_one_hour_and_dns_names_default_empty():
    ca = CertificateAuthority.create("example.org")
    before = datetime.now(UTC)
    svid = ca.issue(SID)
    lifetime = svid.not_after - before
    assert timedelta(minutes=59) < lifetime <= timedelta(hours=1, seconds=5)
    assert (
        svid.certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
        == []
    )


def test_leaf_follows_the_x509_svid_rules():
    ca = CertificateAuthority.create("example.org")
    before = datetime.now(UTC)
    svid = ca.issue(SID, ttl=timedelta(minutes=10), dns_names=("localhost",))
    cert = svid.certificate
    assert 0 < cert.serial_number < 2**128
    assert cert.serial_number.bit_length() > 64  # random, not a counter
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [SID]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.not_valid_before_utc < before  # backdated for clock skew
    assert svid.spiffe_id == SpiffeId.parse(SID)
    assert svid.not_after == cert.not_valid_after_utc


def test_two_leaves_get_different_serials():
    ca = CertificateAuthority.create("example.org")
    assert ca.issue(SID).certificate.serial_number != ca.issue(SID).certificate.serial_number


def test_ca_refuses_ids_outside_its_trust_domain_and_ttls_beyond_its_life():
    ca = CertificateAuthority.create("example.org", ttl=timedelta(days=1))
    with pytest.raises(TrustDomainMismatch) as info:
        ca.issue("spiffe://other.org/ns/prod/sa/orders")
    assert isinstance(info.value, IdentityError)
    with pytest.raises(InvalidTTL):
        ca.issue(SID, ttl=timedelta(days=2))


def _csr_pem() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM)


def test_sign_csr_with_positional_spiffe_id_and_keyword_ttl():
    ca = CertificateAuthority.create("example.org")
    key, csr_pem = _csr_pem()
    cert = ca.sign_csr(csr_pem, SID, ttl=timedelta(minutes=5))
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    identity = WorkloadIdentity(private_key=key, certificate=cert)
    assert str(identity.spiffe_id) == SID
    _verify_strictly(ca, cert)
    assert isinstance(ca.sign_csr(csr_pem.decode(), SpiffeId.parse(SID), ttl=timedelta(minutes=5)),
                      x509.Certificate)  # fmt: skip


@pytest.mark.parametrize("passphrase", ["a str passphrase", b"a bytes passphrase"])
def test_ca_save_and_load_with_passphrase_keyword_as_str_and_bytes(tmp_path, passphrase):
    ca = CertificateAuthority.create("example.org")
    ca.save(tmp_path / "ca", passphrase=passphrase)
    key_pem = (tmp_path / "ca" / "ca.key").read_bytes()
    assert b"ENCRYPTED" in key_pem  # encrypted at rest
    again = CertificateAuthority.load(tmp_path / "ca", passphrase=passphrase)
    assert again.bundle == ca.bundle
    _verify_strictly(ca, again.issue(SID).certificate)


def test_ca_save_and_load_with_str_directory(tmp_path):
    ca = CertificateAuthority.create("example.org")
    ca.save(str(tmp_path / "ca"), passphrase="pw pw pw")
    assert (
        CertificateAuthority.load(str(tmp_path / "ca"), passphrase="pw pw pw").bundle == ca.bundle
    )


# -- TrustBundle and WorkloadIdentity files -------------------------------------


def test_trust_bundle_holds_several_roots_and_round_trips_pem(tmp_path):
    one = CertificateAuthority.create("example.org")
    two = CertificateAuthority.create("example.org")
    bundle = one.bundle.merge(two.bundle)
    assert len(bundle) == 2
    bundle.save(tmp_path / "bundle.pem")
    again = TrustBundle.load(tmp_path / "bundle.pem")
    assert again == bundle
    assert again.trust_domain == "example.org"
    assert TrustBundle.from_pem(bundle.to_pem()) == bundle


def test_workload_identity_exposes_key_leaf_intermediates_and_round_trips_files(tmp_path):
    ca = CertificateAuthority.create("example.org")
    svid = ca.issue(SID)
    assert svid.private_key is not None
    assert isinstance(svid.certificate, x509.Certificate)
    assert svid.intermediates == ()
    svid.save(tmp_path / "svid.pem", tmp_path / "svid.key", passphrase="pw pw pw")
    again = WorkloadIdentity.load(
        tmp_path / "svid.pem", tmp_path / "svid.key", passphrase="pw pw pw"
    )
    assert again.spiffe_id == svid.spiffe_id
    assert again.not_after == svid.not_after
    private_pem = svid.private_key_pem().reveal()
    assert private_pem.decode() not in repr(svid)
    assert "PRIVATE" not in repr(svid)


# -- IdentitySource implementations ---------------------------------------------


def test_static_source_satisfies_the_protocol_and_notifies_subscribers():
    ca = CertificateAuthority.create("example.org")
    source = StaticIdentitySource(ca.issue(SID), ca.bundle)
    assert isinstance(source, IdentitySource)
    seen = []
    source.subscribe(lambda identity, bundle: seen.append((identity, bundle)))
    new = ca.issue(SID)
    source.update(new)
    assert seen == [(new, ca.bundle)]
    assert source.identity is new


def test_file_source_positional_and_issue_keyword_names(tmp_path):
    ca = CertificateAuthority.create("example.org")
    svid = ca.issue(SID)
    svid.save(tmp_path / "c.pem", tmp_path / "k.pem", passphrase="pw pw pw")
    ca.bundle.save(tmp_path / "b.pem")
    paths = (tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "b.pem")
    positional = FileIdentitySource(*paths, passphrase="pw pw pw", poll_interval=1.0)
    by_name = FileIdentitySource(
        cert=paths[0], key=paths[1], bundle=paths[2], passphrase="pw pw pw", poll_interval=1.0
    )
    old_names = FileIdentitySource(
        cert_path=paths[0], key_path=paths[1], bundle_path=paths[2], passphrase="pw pw pw"
    )
    for source in (positional, by_name, old_names):
        assert isinstance(source, IdentitySource)
        assert source.identity.spiffe_id == svid.spiffe_id
        assert source.bundle == ca.bundle


def test_file_source_refuses_a_path_given_twice_or_not_at_all(tmp_path):
    with pytest.raises(ConfigError):
        FileIdentitySource(tmp_path / "c", tmp_path / "k", tmp_path / "b", cert_path=tmp_path)
    with pytest.raises(ConfigError):
        FileIdentitySource(key=tmp_path / "k", bundle=tmp_path / "b")


def test_file_source_keeps_last_good_identity_when_new_files_are_invalid(tmp_path):
    ca = CertificateAuthority.create("example.org")
    svid = ca.issue(SID)
    svid.save(tmp_path / "c.pem", tmp_path / "k.pem", passphrase="pw pw pw")
    ca.bundle.save(tmp_path / "b.pem")
    source = FileIdentitySource(
        tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "b.pem", passphrase="pw pw pw"
    )
    (tmp_path / "c.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n")
    assert source.poll() is False
    assert source.identity.certificate == svid.certificate


def test_ca_source_positional_spiffe_id_and_keyword_renew_at():
    from meshsec.clock import FrozenClock

    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    ca = CertificateAuthority.create("example.org", clock=clock)
    source = CaIdentitySource(ca, SID, renew_at=0.5)
    assert isinstance(source, IdentitySource)
    first = source.identity
    assert str(first.spiffe_id) == SID
    clock.advance(29 * 60)
    assert source.maybe_renew() is False
    clock.advance(2 * 60)  # past half of the default one-hour life
    assert source.maybe_renew() is True
    assert source.identity.serial_number != first.serial_number
    assert CaIdentitySource(ca, SpiffeId.parse(SID)).identity.spiffe_id == first.spiffe_id


def test_every_identity_error_is_a_meshsec_error():
    import meshsec.identity as pkg

    for name in pkg.__all__:
        obj = getattr(pkg, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, IdentityError), name
            assert issubclass(obj, MeshsecError)
            assert obj.code.startswith("identity."), name


# -- CLI as written in the issue --------------------------------------------------


def _meshsec(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # A real process with no terminal on stdin, as in a provisioning script.
    return subprocess.run(
        [str(Path(sys.executable).with_name("meshsec")), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def _cli_available() -> bool:
    return Path(sys.executable).with_name("meshsec").exists()


@pytest.mark.skipif(not _cli_available(), reason="the meshsec console script is not installed")
def test_cli_ca_init_issue_and_inspect_in_a_script_without_a_terminal(tmp_path):
    env = dict(os.environ)
    env["MESHSEC_CA_PASSPHRASE"] = "ca passphrase for the script"
    env["MESHSEC_KEY_PASSPHRASE"] = "key passphrase for the script"
    init = _meshsec(
        "ca", "init", "--trust-domain", "example.org", "--out", "ca", env=env, cwd=tmp_path
    )
    assert init.returncode == 0, init.stderr
    issue = _meshsec(
        "ca", "issue", SID, "--ttl", "1h", "--ca", "ca", "--out", "svid", env=env, cwd=tmp_path
    )
    assert issue.returncode == 0, issue.stderr
    assert "ca passphrase" not in issue.stdout + issue.stderr
    leaf = WorkloadIdentity.load(
        tmp_path / "svid" / "svid.pem",
        tmp_path / "svid" / "svid.key",
        passphrase="key passphrase for the script",
    )
    assert str(leaf.spiffe_id) == SID
    lifetime = leaf.not_after - leaf.not_before
    assert timedelta(minutes=59) < lifetime <= timedelta(hours=1, minutes=2)
    inspect = _meshsec("identity", "inspect", "svid/svid.pem", env=env, cwd=tmp_path)
    assert inspect.returncode == 0, inspect.stderr
    out = inspect.stdout
    assert SID in out
    assert leaf.not_after.isoformat() in out  # validity
    assert "issuer" in out
    assert "ec-p256" in out  # key type
    assert leaf.fingerprint_sha256 in out


@pytest.mark.skipif(not _cli_available(), reason="the meshsec console script is not installed")
def test_cli_without_passphrase_or_terminal_fails_cleanly_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHSEC_")}
    result = _meshsec(
        "ca", "init", "--trust-domain", "example.org", "--out", "ca", env=env, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "MESHSEC_CA_PASSPHRASE" in result.stderr
    assert "error [config.error]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ca" / "ca.key").exists()


def test_saving_a_key_without_passphrase_is_refused_and_writes_nothing(tmp_path):
    # The passphrase is a required keyword: meshsec never writes a plaintext key.
    ca = CertificateAuthority.create("example.org")
    with pytest.raises(TypeError):
        ca.save(tmp_path / "ca")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ca.issue(SID).save(tmp_path / "svid.pem", tmp_path / "svid.key")  # type: ignore[call-arg]
    assert list(tmp_path.iterdir()) == []


def test_ca_source_renews_at_half_life_without_a_thread():
    from meshsec import audit
    from meshsec.clock import FrozenClock

    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    ca = CertificateAuthority.create("example.org", clock=clock)
    source = CaIdentitySource(ca, SID, renew_at=0.5)
    first = source.identity
    seen = []
    source.subscribe(lambda identity, _bundle: seen.append(source.identity is identity))
    clock.advance(29 * 60)
    assert source.identity is first
    clock.advance(2 * 60)
    with audit.capture() as events:
        renewed = source.identity
        assert source.identity is renewed  # one renewal, not one per read
    assert renewed is not first
    assert renewed.not_after > first.not_after
    assert seen == [True]  # a subscriber reading .identity sees the new one (no deadlock)
    rotations = [e for e in events if e.action == "rotate"]
    assert len(rotations) == 1
    assert rotations[0].category == audit.Category.CERTIFICATE


def test_ca_source_past_ca_life_keeps_the_current_identity():
    from meshsec.clock import FrozenClock

    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    ca = CertificateAuthority.create("example.org", ttl=timedelta(hours=2), clock=clock)
    source = CaIdentitySource(ca, SID, renew_at=0.5)
    first = source.identity
    clock.advance(3 * 3600)  # the CA itself has expired: renewal fails, audited
    assert source.identity is first
    assert source.identity is first


def test_file_source_follows_poll_interval_without_a_thread(tmp_path):
    from meshsec.clock import FrozenClock

    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    ca = CertificateAuthority.create("example.org", clock=clock)
    paths = (tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "b.pem")
    ca.issue(SID).save(paths[0], paths[1], passphrase="pw pw pw")
    ca.bundle.save(paths[2])
    source = FileIdentitySource(*paths, passphrase="pw pw pw", poll_interval=2.0, clock=clock)
    first = source.identity
    seen = []
    source.subscribe(lambda identity, _bundle: seen.append(source.identity is identity))
    new = ca.issue(SID)
    new.save(paths[0], paths[1], passphrase="pw pw pw")
    clock.advance(1)
    assert source.identity is first  # not due yet
    clock.advance(1.5)
    assert source.identity.serial_number == new.serial_number
    assert seen == [True]
    # Half-written files: the last good identity stays.
    paths[0].write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    clock.advance(3)
    assert source.identity.serial_number == new.serial_number
    assert source.bundle == ca.bundle
