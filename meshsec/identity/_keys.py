"""Key types, key generation and private-key serialization.

The key decides the signature algorithm (STYLE.md habit 2): ECDSA P-256 and
RSA sign with SHA-256, Ed25519 signs with its own hash. Private keys are
serialized as PKCS#8; on disk they are always encrypted
(``BestAvailableEncryption``, which cryptography maps to PBKDF2 and AES-256).
"""

from __future__ import annotations

import hmac
from typing import Literal, TypeAlias, get_args

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from meshsec.identity._errors import (
    InvalidCertificate,
    InvalidPassphrase,
    KeyMismatch,
    UnsupportedKeyType,
)
from meshsec.secret import Secret

KeyType = Literal["ec-p256", "ed25519", "rsa-3072"]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
Passphrase: TypeAlias = str | bytes | Secret[str] | Secret[bytes]

_ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)
_MIN_RSA_BITS = 2048


def generate_private_key(key_type: str) -> PrivateKey:
    """A fresh private key of one of the issued key types."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise UnsupportedKeyType(f"key_type must be one of {', '.join(KEY_TYPES)}")


def key_type_name(key: object) -> str:
    """A short name such as ``ec-p256``, ``ed25519`` or ``rsa-3072``."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(key.curve.name, "ec-other")
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    # Certificates being inspected may carry any key (Ed448, DSA ...): name it
    # honestly instead of guessing.
    return "other"


def check_public_key(key: object) -> PublicKey:
    """Return the key if meshsec accepts it in a certificate; raise UnsupportedKeyType."""
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _ACCEPTED_CURVES):
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        return key
    raise UnsupportedKeyType("accepted keys are EC P-256/P-384, Ed25519 and RSA of 2048+ bits")


def check_private_key(key: object) -> PrivateKey:
    """Return the key if meshsec accepts it; raise UnsupportedKeyType."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        check_public_key(key.public_key())
        return key
    raise UnsupportedKeyType("accepted keys are EC P-256/P-384, Ed25519 and RSA of 2048+ bits")


def signature_hash(key: PrivateKey) -> hashes.SHA256 | None:
    """The hash a CA key signs with: none for Ed25519 (it hashes internally)."""
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    public = key if isinstance(key, PublicKey) else key.public_key()
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_key_pair(key: PrivateKey, public: object) -> None:
    """Raise KeyMismatch unless ``key`` is the private half of ``public``."""
    if not isinstance(public, PublicKey) or not hmac.compare_digest(
        public_key_der(key), public_key_der(public)
    ):
        raise KeyMismatch("the private key does not belong to the certificate")


def passphrase_bytes(passphrase: Passphrase) -> bytes:
    """The passphrase as bytes; an empty passphrase is refused."""
    value = passphrase.reveal() if isinstance(passphrase, Secret) else passphrase
    if not isinstance(value, str | bytes):
        raise InvalidPassphrase("a passphrase must be str, bytes or a Secret of either")
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if not raw:
        raise InvalidPassphrase("an empty passphrase does not protect a key; give a real one")
    return raw


def encrypted_key_pem(key: PrivateKey, passphrase: Passphrase) -> bytes:
    """PKCS#8 PEM encrypted under the passphrase."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase_bytes(passphrase)),
    )


def plain_key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM, for memory only (never written by meshsec)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key_pem(
    data: bytes | str | Secret[bytes] | Secret[str],
    passphrase: Passphrase | None = None,
    *,
    require_encrypted: bool = False,
) -> PrivateKey:
    """Load a PEM private key (PKCS#8, or the traditional EC/RSA forms agents write).

    A plaintext key loads even when a passphrase is given, unless
    ``require_encrypted``. Raises InvalidPassphrase when the key is encrypted
    and the passphrase is missing or wrong (one message for both, no oracle),
    or when ``require_encrypted`` and the key is plaintext; InvalidCertificate
    for malformed PEM; UnsupportedKeyType for keys meshsec does not accept.
    """
    raw = data.reveal() if isinstance(data, Secret) else data
    pem = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    if not isinstance(pem, bytes):
        raise InvalidCertificate("a private key PEM must be bytes or str")
    password = None if passphrase is None else passphrase_bytes(passphrase)
    # The PEM headers say whether a key is encrypted: PKCS#8 "ENCRYPTED PRIVATE
    # KEY" or the traditional RFC 1421 "Proc-Type: 4,ENCRYPTED".
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem or b"Proc-Type: 4,ENCRYPTED" in pem
    if require_encrypted and not encrypted:
        raise InvalidPassphrase(
            "the key file is not encrypted; meshsec keeps this key encrypted at rest"
        )
    if encrypted and password is None:
        raise InvalidPassphrase("the private key is encrypted; give its passphrase")
    try:
        key = serialization.load_pem_private_key(pem, password=password if encrypted else None)
    except ValueError:
        if encrypted:
            raise InvalidPassphrase("the passphrase does not decrypt the private key") from None
        raise InvalidCertificate("the private key PEM is malformed") from None
    except Exception:  # noqa: BLE001  cryptography raises assorted types on hostile input
        raise InvalidCertificate("the private key PEM is malformed") from None
    return check_private_key(key)
