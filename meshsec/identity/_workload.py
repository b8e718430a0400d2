"""WorkloadIdentity: an X509-SVID with its private key."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import NoReturn

import attrs
from cryptography import x509

from meshsec.identity import _keys, _x509
from meshsec.identity._errors import InvalidCertificate
from meshsec.identity._files import KEY_MODE, PUBLIC_MODE, read_file, write_file
from meshsec.identity._keys import Passphrase, PrivateKey
from meshsec.identity._spiffe import SpiffeId
from meshsec.secret import Secret


def _check_leaf(
    _instance: WorkloadIdentity,
    _attribute: attrs.Attribute[x509.Certificate],
    cert: x509.Certificate,
) -> None:
    if not isinstance(cert, x509.Certificate):
        raise InvalidCertificate("certificate must be a cryptography x509.Certificate")
    if _x509.is_ca(cert) or _x509.signs_crls(cert):
        # X509-SVID section 4: a leaf SVID is not a CA and sets neither
        # keyCertSign nor cRLSign.
        raise InvalidCertificate(
            "a workload certificate must not be a CA (CA:TRUE, keyCertSign or cRLSign)"
        )


def _to_tuple(value: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    certs = tuple(value)
    if not all(isinstance(c, x509.Certificate) for c in certs):
        raise InvalidCertificate("intermediates must be x509.Certificate objects")
    return certs


@attrs.frozen(repr=False)
class WorkloadIdentity:
    """A workload's private key, leaf certificate and intermediates (an X509-SVID).

    Construction checks the X509-SVID rules: exactly one URI SAN holding a
    valid SPIFFE ID, no CA powers, and a private key that matches the
    certificate. ``spiffe_id`` and ``not_after`` are read from the
    certificate. The private key never appears in ``repr``.

    Raises InvalidCertificate, KeyMismatch or UnsupportedKeyType.
    """

    private_key: PrivateKey = attrs.field(kw_only=True, eq=False)
    certificate: x509.Certificate = attrs.field(kw_only=True, validator=_check_leaf)
    intermediates: tuple[x509.Certificate, ...] = attrs.field(
        kw_only=True, default=(), converter=_to_tuple
    )
    spiffe_id: SpiffeId = attrs.field(init=False, eq=False)
    not_after: datetime = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        _keys.check_private_key(self.private_key)
        _keys.check_public_key(self.certificate.public_key())
        _keys.check_key_pair(self.private_key, self.certificate.public_key())
        object.__setattr__(self, "spiffe_id", _x509.spiffe_id_of(self.certificate))
        object.__setattr__(self, "not_after", _x509.not_after(self.certificate))

    @classmethod
    def _issued(
        cls, private_key: PrivateKey, certificate: x509.Certificate, spiffe_id: SpiffeId
    ) -> WorkloadIdentity:
        """Wrap a certificate the CA has just built for ``private_key`` (checks skipped).

        Private to the CA: every property checked by ``__attrs_post_init__``
        holds by construction there, and issuing is on the renewal hot path.
        """
        instance = object.__new__(cls)
        for name, value in (
            ("private_key", private_key),
            ("certificate", certificate),
            ("intermediates", ()),
            ("spiffe_id", spiffe_id),
            ("not_after", _x509.not_after(certificate)),
        ):
            object.__setattr__(instance, name, value)
        return instance

    @property
    def not_before(self) -> datetime:
        return _x509.not_before(self.certificate)

    @property
    def key_type(self) -> str:
        """``ec-p256``, ``ed25519``, ``rsa-3072`` ... (from the key itself)."""
        return _keys.key_type_name(self.private_key)

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    @property
    def fingerprint_sha256(self) -> str:
        """SHA-256 fingerprint of the leaf certificate, ``AB:CD:...``."""
        return _x509.fingerprint_sha256(self.certificate)

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """The leaf followed by the intermediates, as presented in a handshake."""
        return (self.certificate, *self.intermediates)

    @property
    def chain_pem(self) -> bytes:
        """The leaf and intermediates as PEM (no private key)."""
        return _x509.to_pem(self.chain)

    @property
    def dns_names(self) -> tuple[str, ...]:
        return tuple(_x509.dns_sans(self.certificate))

    def private_key_pem(self, *, passphrase: Passphrase | None = None) -> Secret[bytes]:
        """The PKCS#8 key PEM, wrapped in a Secret; encrypted when a passphrase is given."""
        if passphrase is None:
            return Secret(_keys.plain_key_pem(self.private_key))
        return Secret(_keys.encrypted_key_pem(self.private_key, passphrase))

    def to_pem(self, *, passphrase: Passphrase | None = None) -> tuple[bytes, Secret[bytes]]:
        """``(chain_pem, key_pem)``; the key stays wrapped in a Secret."""
        return self.chain_pem, self.private_key_pem(passphrase=passphrase)

    @classmethod
    def from_pem(
        cls,
        chain_pem: bytes | str,
        key_pem: bytes | str | Secret[bytes] | Secret[str],
        *,
        passphrase: Passphrase | None = None,
    ) -> WorkloadIdentity:
        """Build from a PEM chain (leaf first) and a PEM key (plain or encrypted).

        Raises InvalidCertificate, InvalidPassphrase, KeyMismatch or UnsupportedKeyType.
        """
        certs = _x509.load_pem_certificates(chain_pem)
        key = _keys.load_key_pem(key_pem, passphrase)
        return cls(private_key=key, certificate=certs[0], intermediates=certs[1:])

    def save(
        self,
        cert_path: str | os.PathLike[str],
        key_path: str | os.PathLike[str],
        *,
        passphrase: Passphrase,
    ) -> None:
        """Write the chain (0644) and the key, always encrypted, (0600) atomically.

        meshsec never writes a plaintext private key (DESIGN.md principle 5),
        so the passphrase is required; an empty one raises InvalidPassphrase.
        """
        key_pem = _keys.encrypted_key_pem(self.private_key, passphrase)
        write_file(key_path, key_pem, mode=KEY_MODE)
        write_file(cert_path, self.chain_pem, mode=PUBLIC_MODE)

    @classmethod
    def load(
        cls,
        cert_path: str | os.PathLike[str],
        key_path: str | os.PathLike[str],
        *,
        passphrase: Passphrase | None = None,
    ) -> WorkloadIdentity:
        """Read PEM files. Plaintext keys (as SPIRE or cert-manager write them) load too.

        Raises IdentityFileError, InvalidCertificate, InvalidPassphrase, KeyMismatch.
        """
        return cls.from_pem(read_file(cert_path), read_file(key_path), passphrase=passphrase)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a WorkloadIdentity holds a private key and cannot be pickled")

    def __repr__(self) -> str:
        return (
            f"WorkloadIdentity(spiffe_id={str(self.spiffe_id)!r}, key_type={self.key_type!r}, "
            f"not_after={self.not_after.isoformat()!r}, serial={self.serial_number:x})"
        )
