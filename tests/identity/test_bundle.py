"""TrustBundle: one trust domain, several roots, PEM round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import IdentityError
from meshsec.identity import (
    CertificateAuthority,
    IdentityFileError,
    InvalidCertificate,
    TrustBundle,
    TrustDomainMismatch,
)

from . import certs


@pytest.fixture(scope="module")
def roots() -> tuple[CertificateAuthority, CertificateAuthority]:
    return CertificateAuthority.create("example.org"), CertificateAuthority.create("example.org")


def test_from_pem_reads_trust_domain_from_root_uri(roots: tuple) -> None:  # type: ignore[type-arg]
    bundle = TrustBundle.from_pem(roots[0].bundle.to_pem())
    assert bundle.trust_domain == "example.org"
    assert bundle.certificates == (roots[0].certificate,)


def test_root_rotation_bundle_holds_both_roots(roots: tuple) -> None:  # type: ignore[type-arg]
    old, new = roots
    both = old.bundle.add(new.certificate)
    assert len(both) == 2
    assert new.certificate in both
    assert old.bundle.merge(new.bundle) == both
    assert TrustBundle.from_pem(both.to_pem()) == both
    assert both.remove(old.certificate) == new.bundle
    assert len(old.bundle) == 1  # add returned a new bundle


def test_duplicates_are_dropped(roots: tuple) -> None:  # type: ignore[type-arg]
    bundle = roots[0].bundle.add(roots[0].certificate).merge(roots[0].bundle)
    assert len(bundle) == 1


def test_other_trust_domain_root_is_refused(roots: tuple) -> None:  # type: ignore[type-arg]
    foreign = CertificateAuthority.create("evil.example")
    with pytest.raises(TrustDomainMismatch):
        roots[0].bundle.add(foreign.certificate)
    with pytest.raises(TrustDomainMismatch):
        roots[0].bundle.merge(foreign.bundle)
    with pytest.raises(TrustDomainMismatch):
        TrustBundle.from_pem(foreign.bundle.to_pem(), trust_domain="example.org")


def test_leaf_certificates_are_refused_as_roots(roots: tuple) -> None:  # type: ignore[type-arg]
    leaf = roots[0].issue("spiffe://example.org/a").certificate
    with pytest.raises(InvalidCertificate):
        roots[0].bundle.add(leaf)


def test_ca_flagged_leaf_without_domain_needs_explicit_trust_domain(
    roots: tuple,  # type: ignore[type-arg]
) -> None:
    cert, _ = certs.custom_leaf(roots[0], is_ca=True)  # a CA cert with no URI SAN
    pem = roots[0].bundle.to_pem() + TrustBundle("example.org", (cert,)).to_pem()
    assert len(TrustBundle.from_pem(pem)) == 2
    with pytest.raises(InvalidCertificate):
        TrustBundle.from_pem(TrustBundle("example.org", (cert,)).to_pem())


def test_empty_bundle_is_refused() -> None:
    with pytest.raises(InvalidCertificate):
        TrustBundle("example.org", ())


def test_bundle_of_mixed_domains_without_hint_is_refused(roots: tuple) -> None:  # type: ignore[type-arg]
    foreign = CertificateAuthority.create("evil.example")
    with pytest.raises(InvalidCertificate):
        TrustBundle.from_pem(roots[0].bundle.to_pem() + foreign.bundle.to_pem())


def test_save_and_load(roots: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    bundle = roots[0].bundle.merge(roots[1].bundle)
    bundle.save(tmp_path / "bundle.pem")
    assert TrustBundle.load(tmp_path / "bundle.pem") == bundle
    with pytest.raises(IdentityFileError):
        TrustBundle.load(tmp_path / "missing.pem")


def test_repr_is_short_and_public(roots: tuple) -> None:  # type: ignore[type-arg]
    text = repr(roots[0].bundle)
    assert "example.org" in text
    assert "BEGIN" not in text


@given(st.binary(max_size=500))
def test_garbage_raises_only_identity_errors(data: bytes) -> None:
    with pytest.raises(IdentityError):
        TrustBundle.from_pem(data)
