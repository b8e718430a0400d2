"""TrustBundle: the root certificates of one trust domain."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from meshsec.identity import _x509
from meshsec.identity._errors import InvalidCertificate, InvalidSpiffeId, TrustDomainMismatch
from meshsec.identity._files import PUBLIC_MODE, read_file, write_file
from meshsec.identity._spiffe import SpiffeId, validate_trust_domain


def _check_td(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    validate_trust_domain(value)


def _root_trust_domain(cert: x509.Certificate) -> str | None:
    """The trust domain named by a root's URI SAN (SPIRE puts ``spiffe://td`` there)."""
    for uri in _x509.uri_sans(cert):
        try:
            return SpiffeId.parse(uri).trust_domain
        except InvalidSpiffeId:
            continue
    return None


def _unique(certs: Iterable[object]) -> tuple[x509.Certificate, ...]:
    seen: set[bytes] = set()
    result = []
    for cert in certs:
        if not isinstance(cert, x509.Certificate):
            raise InvalidCertificate("a trust bundle holds x509.Certificate objects")
        digest = cert.fingerprint(hashes.SHA256())
        if digest not in seen:
            seen.add(digest)
            result.append(cert)
    return tuple(result)


@attrs.frozen(repr=False)
class TrustBundle:
    """The CA certificates trusted for one trust domain; several during root rotation.

    Immutable: :meth:`add`, :meth:`merge` and :meth:`remove` return new bundles.
    Each certificate must be a CA; a certificate whose URI SAN names another
    trust domain is refused (TrustDomainMismatch). Duplicates are dropped.
    """

    trust_domain: str = attrs.field(validator=_check_td)
    certificates: tuple[x509.Certificate, ...] = attrs.field(converter=_unique)

    def __attrs_post_init__(self) -> None:
        if not self.certificates:
            raise InvalidCertificate("a trust bundle needs at least one certificate")
        for cert in self.certificates:
            if not _x509.is_ca(cert):
                raise InvalidCertificate("a trust bundle holds CA certificates only")
            named = _root_trust_domain(cert)
            if named is not None and named != self.trust_domain:
                raise TrustDomainMismatch(
                    f"a certificate for trust domain {named!r} cannot join the bundle "
                    f"of {self.trust_domain!r}"
                )

    @classmethod
    def from_pem(cls, pem: bytes | str, *, trust_domain: str | None = None) -> TrustBundle:
        """Parse PEM roots. Without ``trust_domain`` it is read from the roots' URI SANs.

        Raises InvalidCertificate, TrustDomainMismatch or InvalidSpiffeId.
        """
        certs = _x509.load_pem_certificates(pem)
        if trust_domain is None:
            named = {td for td in map(_root_trust_domain, certs) if td is not None}
            if len(named) != 1:
                raise InvalidCertificate(
                    "cannot tell the bundle's trust domain from its certificates; "
                    "pass trust_domain="
                )
            trust_domain = named.pop()
        return cls(trust_domain, certs)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, trust_domain: str | None = None) -> TrustBundle:
        """Read a PEM bundle file. Raises IdentityFileError or the from_pem errors."""
        return cls.from_pem(read_file(path), trust_domain=trust_domain)

    def to_pem(self) -> bytes:
        return _x509.to_pem(self.certificates)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the bundle PEM atomically (0644: it holds no secret)."""
        write_file(path, self.to_pem(), mode=PUBLIC_MODE)

    def add(self, certificate: x509.Certificate) -> TrustBundle:
        """A new bundle that also trusts ``certificate`` (a new root during rotation)."""
        return TrustBundle(self.trust_domain, (*self.certificates, certificate))

    def merge(self, other: TrustBundle) -> TrustBundle:
        """A new bundle with the roots of both; both must share the trust domain."""
        if other.trust_domain != self.trust_domain:
            raise TrustDomainMismatch("bundles of different trust domains cannot be merged")
        return TrustBundle(self.trust_domain, (*self.certificates, *other.certificates))

    def remove(self, certificate: x509.Certificate) -> TrustBundle:
        """A new bundle without ``certificate`` (retiring an old root)."""
        digest = certificate.fingerprint(hashes.SHA256())
        kept = [c for c in self.certificates if c.fingerprint(hashes.SHA256()) != digest]
        return TrustBundle(self.trust_domain, kept)

    def __contains__(self, certificate: object) -> bool:
        if not isinstance(certificate, x509.Certificate):
            return False
        digest = certificate.fingerprint(hashes.SHA256())
        return any(c.fingerprint(hashes.SHA256()) == digest for c in self.certificates)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(self.certificates)

    def __len__(self) -> int:
        return len(self.certificates)

    def __repr__(self) -> str:
        prints = ", ".join(_x509.fingerprint_sha256(c)[:11] for c in self.certificates)
        return f"TrustBundle(trust_domain={self.trust_domain!r}, roots=[{prints}])"
