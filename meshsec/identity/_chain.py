"""Checking that a workload identity chains to a trust bundle and is valid now.

Used by the sources before they swap in a new identity, so a half-written
file, a certificate from another CA or an expired one never replaces a good
identity. Chain building is by issuer name and signature
(``verify_directly_issued_by``); peers do the full RFC 5280 validation.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from meshsec.identity import _x509
from meshsec.identity._bundle import TrustBundle
from meshsec.identity._errors import (
    CertificateExpired,
    CertificateNotYetValid,
    TrustDomainMismatch,
    UntrustedCertificate,
)
from meshsec.identity._workload import WorkloadIdentity


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    """Raise CertificateNotYetValid / CertificateExpired when ``now`` is outside validity."""
    if now < _x509.not_before(cert):
        raise CertificateNotYetValid("the certificate is not valid yet (check clocks)")
    if now >= _x509.not_after(cert):
        raise CertificateExpired("the certificate has expired; a new one must be issued")


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001  name mismatch, bad signature or unsupported key all mean "no"
        return False
    return True


def verify_identity(identity: WorkloadIdentity, bundle: TrustBundle, *, now: datetime) -> None:
    """Raise unless ``identity`` is valid at ``now`` and chains to a root of ``bundle``.

    Raises TrustDomainMismatch, CertificateExpired, CertificateNotYetValid or
    UntrustedCertificate.
    """
    if identity.spiffe_id.trust_domain != bundle.trust_domain:
        raise TrustDomainMismatch("the identity and the trust bundle name different trust domains")
    for cert in identity.chain:
        check_validity(cert, now)
    current = identity.certificate
    for issuer in identity.intermediates:
        if not _x509.is_ca(issuer) or not _signed_by(current, issuer):
            raise UntrustedCertificate("the certificate chain is out of order or broken")
        current = issuer
    for root in bundle.certificates:
        if _signed_by(current, root):
            check_validity(root, now)
            return
    raise UntrustedCertificate("the certificate does not chain to the trust bundle")
