"""Small, strict readers over ``cryptography.x509`` certificates."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from meshsec.identity._errors import InvalidCertificate, InvalidSpiffeId
from meshsec.identity._spiffe import SpiffeId

_PEM_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"


def load_pem_certificates(data: bytes | str) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM blob, in order; at least one, or InvalidCertificate."""
    pem = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if not isinstance(pem, bytes) or _PEM_CERT_MARKER not in pem:
        raise InvalidCertificate("no PEM certificate found")
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except Exception:  # noqa: BLE001  cryptography raises assorted types on hostile input
        raise InvalidCertificate("the certificate PEM is malformed") from None
    if not certs:
        raise InvalidCertificate("no PEM certificate found")
    return tuple(certs)


def to_pem(certs: tuple[x509.Certificate, ...] | list[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def uri_sans(cert: x509.Certificate) -> list[str]:
    """The URI SANs, or an empty list when the certificate has no SAN extension."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except Exception:  # noqa: BLE001  malformed extensions surface lazily
        raise InvalidCertificate("the certificate's extensions are malformed") from None
    return list(ext.value.get_values_for_type(x509.UniformResourceIdentifier))


def dns_sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value.get_values_for_type(x509.DNSName))


def spiffe_id_of(cert: x509.Certificate) -> SpiffeId:
    """The SPIFFE ID of an X509-SVID: exactly one URI SAN, and a valid SPIFFE ID.

    Raises InvalidCertificate otherwise (X509-SVID specification, section 2).
    """
    uris = uri_sans(cert)
    if len(uris) != 1:
        raise InvalidCertificate(
            f"an X509-SVID carries exactly one URI SAN; this certificate has {len(uris)}"
        )
    try:
        return SpiffeId.parse(uris[0])
    except InvalidSpiffeId:
        raise InvalidCertificate("the certificate's URI SAN is not a valid SPIFFE ID") from None


def is_ca(cert: x509.Certificate) -> bool:
    """True when BasicConstraints says CA:TRUE or KeyUsage allows keyCertSign."""
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if basic.ca:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return bool(usage.key_cert_sign)


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Colon-separated uppercase hex, as ``openssl x509 -fingerprint -sha256`` prints."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def not_before(cert: x509.Certificate) -> datetime:
    return cert.not_valid_before_utc


def not_after(cert: x509.Certificate) -> datetime:
    return cert.not_valid_after_utc


def signs_crls(cert: x509.Certificate) -> bool:
    """True when KeyUsage allows cRLSign."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return bool(usage.crl_sign)
