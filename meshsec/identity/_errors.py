"""Errors of the identity area.

::

    IdentityError (meshsec.errors)
    +-- InvalidSpiffeId            identity.invalid_spiffe_id
    +-- InvalidCertificate         identity.invalid_certificate
    |   +-- CertificateExpired     identity.certificate_expired
    |   +-- CertificateNotYetValid identity.certificate_not_yet_valid
    |   +-- UntrustedCertificate   identity.untrusted_certificate
    +-- KeyMismatch                identity.key_mismatch
    +-- UnsupportedKeyType         identity.unsupported_key_type
    +-- TrustDomainMismatch        identity.trust_domain_mismatch
    +-- InvalidTTL                 identity.invalid_ttl
    +-- InvalidPassphrase          identity.invalid_passphrase
    +-- IdentityFileError          identity.file_error
"""

from __future__ import annotations

# Names follow the project habit (TokenExpired, InvalidToken): no "Error" suffix.
# ruff: noqa: N818
from meshsec.errors import IdentityError


class InvalidSpiffeId(IdentityError):
    """The text is not a valid SPIFFE ID."""

    code = "identity.invalid_spiffe_id"


class InvalidCertificate(IdentityError):
    """A certificate, key or CSR is malformed or breaks the X509-SVID rules."""

    code = "identity.invalid_certificate"


class CertificateExpired(InvalidCertificate):
    """A certificate's validity period has ended."""

    code = "identity.certificate_expired"


class CertificateNotYetValid(InvalidCertificate):
    """A certificate's validity period has not started yet."""

    code = "identity.certificate_not_yet_valid"


class UntrustedCertificate(InvalidCertificate):
    """A certificate does not chain to a root of the trust bundle."""

    code = "identity.untrusted_certificate"


class KeyMismatch(IdentityError):
    """The private key does not belong to the certificate."""

    code = "identity.key_mismatch"


class UnsupportedKeyType(IdentityError):
    """The key type is not one meshsec issues or accepts."""

    code = "identity.unsupported_key_type"


class TrustDomainMismatch(IdentityError):
    """A SPIFFE ID or certificate belongs to another trust domain."""

    code = "identity.trust_domain_mismatch"


class InvalidTTL(IdentityError):
    """A requested lifetime is not positive or outlives the issuing CA."""

    code = "identity.invalid_ttl"


class InvalidPassphrase(IdentityError):
    """A passphrase is empty, or does not decrypt the key."""

    code = "identity.invalid_passphrase"


class IdentityFileError(IdentityError):
    """An identity file could not be read or written."""

    code = "identity.file_error"
