"""Signing keys, each pinned to exactly one JWS algorithm.

The key decides the algorithm (STYLE.md habit 2): a token's header ``alg`` is
only compared against it, never used to pick one (RFC 8725 §3.1). Signing and
verifying go through PyJWT's algorithm objects on the already-split token, so
the bytes are parsed once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final, NoReturn

import jwt.algorithms
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from meshsec.secret import Secret
from meshsec.tokens import _jose
from meshsec.tokens._errors import InvalidKey

__all__ = ["ALGORITHMS", "POLICY_JWS_TYPE", "SigningKey"]

#: Algorithms meshsec signs and verifies with, strongest default first.
ALGORITHMS: Final = ("EdDSA", "ES256", "ES384", "PS256", "RS256", "HS256")

POLICY_JWS_TYPE: Final = "meshsec-policy+jws"

_MIN_RSA_BITS = 2048
# Ed25519 public keys of small order, as y-coordinates with the sign bit
# cleared: 0, 1, the two order-8 values, p-1, and p, p+1 (non-canonical
# spellings of 0 and 1). RFC 8032 §5.1.7 does not exclude them and OpenSSL
# accepts them, yet with one (the identity, 01 00..00) the signature
# R = identity, S = 0 verifies for every message ("Taming the many EdDSAs",
# Chalkias et al. 2020, §3). No honest key is one of these.
_SMALL_ORDER_ED25519: Final = frozenset(
    bytes.fromhex(value)
    for value in (
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)
_MIN_RSA_EXPONENT = 65537
_MAX_RSA_BITS = 8192
_MIN_SECRET_BYTES = 32
_CURVES: Final = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1}
_CURVE_ALG: Final = {"P-256": "ES256", "P-384": "ES384"}
# RFC 7638 §3.2: the required members per key type, in lexicographic order.
_THUMBPRINT_MEMBERS: Final = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}
_PRIVATE_TYPES: Final = (
    ed25519.Ed25519PrivateKey,
    ec.EllipticCurvePrivateKey,
    rsa.RSAPrivateKey,
)

_Passphrase = str | bytes | Secret[str] | Secret[bytes]


@cache
def _algorithm(alg: str) -> jwt.algorithms.Algorithm:
    return jwt.algorithms.get_default_algorithms()[alg]


class SigningKey:
    """One JWS key and the one algorithm it is used with.

    Build it with :meth:`generate`, :meth:`symmetric`, :meth:`from_jwk`,
    :meth:`from_pem` or :meth:`load`. ``kid`` is the RFC 7638 JWK thumbprint
    (or the ``kid`` an imported JWK already carries). A key loaded from public
    material verifies only. Private material never appears in ``repr`` and
    the object refuses to be pickled.
    """

    __slots__ = ("_alg", "_algorithm", "_kid", "_private", "_public", "_sig_len")

    def __init__(self, *, alg: str, private: Any, public: Any, kid: str | None = None) -> None:
        # Private constructor: use the class methods, which validate the key.
        self._alg = alg
        self._algorithm = _algorithm(alg)
        self._private = private
        self._public = public
        self._sig_len = _signature_length(alg, public)
        self._kid = kid or _thumbprint(self._public_members())

    # -- construction ------------------------------------------------------

    @classmethod
    def generate(cls, alg: str = "EdDSA", *, rsa_bits: int = 3072) -> SigningKey:
        """A new random key for ``alg`` (EdDSA, ES256, ES384, PS256 or RS256).

        Raises InvalidKey for an unknown algorithm, for HS256 (use
        :meth:`symmetric`) and for ``rsa_bits`` outside 2048..8192.
        """
        if not isinstance(alg, str):
            raise InvalidKey(f"unsupported algorithm; choose one of {', '.join(ALGORITHMS)}")
        if alg in _CURVES:
            private: Any = ec.generate_private_key(_CURVES[alg]())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        elif alg in ("PS256", "RS256"):
            # The upper bound stops a typo (rsa_bits=10**6) from generating for hours.
            if (
                isinstance(rsa_bits, bool)
                or not isinstance(rsa_bits, int)
                or not _MIN_RSA_BITS <= rsa_bits <= _MAX_RSA_BITS
            ):
                raise InvalidKey(f"RSA keys have {_MIN_RSA_BITS} to {_MAX_RSA_BITS} bits")
            private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        elif alg == "HS256":
            raise InvalidKey("HS256 keys come from SigningKey.symmetric(secret)")
        else:
            raise InvalidKey(f"unsupported algorithm; choose one of {', '.join(ALGORITHMS)}")
        return cls(alg=alg, private=private, public=private.public_key())

    @classmethod
    def symmetric(cls, secret: bytes | Secret[bytes], alg: str = "HS256") -> SigningKey:
        """An HMAC key from a shared secret of at least 32 random bytes.

        Symmetric keys sign and verify; they never appear in a JWKS. Raises
        InvalidKey for a shorter secret or an algorithm other than HS256.
        """
        raw = secret.reveal() if isinstance(secret, Secret) else secret
        if alg != "HS256":
            raise InvalidKey("symmetric keys support HS256 only")
        if not isinstance(raw, bytes) or len(raw) < _MIN_SECRET_BYTES:
            # RFC 7518 §3.2: the HMAC key must be at least the hash size.
            raise InvalidKey(f"an HS256 secret must be at least {_MIN_SECRET_BYTES} random bytes")
        return cls(alg=alg, private=raw, public=raw)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | str, *, alg: str | None = None) -> SigningKey:
        """Load a key from a JWK (dict or JSON text).

        The algorithm is ``alg`` if given, else the JWK's ``alg`` member, else
        implied by an EC curve, an Ed25519 key or an ``oct`` key; an RSA JWK
        without either is refused (RS256 or PS256 must be pinned). A JWK whose
        ``use`` is not ``sig`` is refused. Raises InvalidKey.
        """
        data = _jwk_mapping(jwk)
        chosen = _choose_alg(data, alg)
        kid = data.get("kid")
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise InvalidKey("a JWK kid must be a non-empty string")
        if chosen == "HS256":
            secret = _load_jwk(chosen, data)
            key = cls.symmetric(secret)
            return cls(alg=chosen, private=secret, public=secret, kid=kid or key.kid)
        loaded = _load_jwk(chosen, data)
        # What PyJWT loaded decides, not the member names: an Ed25519 JWK with a
        # stray "k" or "p" member is still a public key.
        private = isinstance(loaded, _PRIVATE_TYPES)
        public = loaded.public_key() if private else loaded
        _check_key(chosen, public)
        return cls(alg=chosen, private=loaded if private else None, public=public, kid=kid)

    @classmethod
    def from_pem(
        cls, data: bytes, *, passphrase: _Passphrase | None = None, alg: str | None = None
    ) -> SigningKey:
        """Load a PEM private key (encrypted with ``passphrase``) or public key.

        ``alg`` is required for RSA keys (RS256 or PS256) and implied for EC
        and Ed25519 keys. Raises InvalidKey; the message never repeats the
        passphrase or the key.
        """
        password = _passphrase_bytes(passphrase) if passphrase is not None else None
        try:
            if b"PRIVATE KEY" in data:
                private: Any = serialization.load_pem_private_key(data, password=password)
                public = private.public_key()
            else:
                private, public = None, serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InvalidKey(
                "the PEM data is not a supported key, or the passphrase is wrong"
            ) from None
        chosen = _alg_for_public(public, alg)
        _check_key(chosen, public)
        return cls(alg=chosen, private=private, public=public)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        passphrase: _Passphrase | None = None,
        alg: str | None = None,
    ) -> SigningKey:
        """Read :meth:`from_pem` data from a file."""
        return cls.from_pem(Path(path).read_bytes(), passphrase=passphrase, alg=alg)

    # -- export ------------------------------------------------------------

    def to_jwk(self, *, private: bool = False) -> dict[str, Any]:
        """The key as a JWK dict with ``kid``, ``alg`` and ``use: sig``.

        ``private=False`` (the default) gives the public members only; a
        symmetric key has none and raises InvalidKey unless ``private=True``.
        """
        if private:
            if self._private is None:
                raise InvalidKey("this key holds no private material")
            members = dict(self._algorithm.to_jwk(self._private, as_dict=True))
        elif self.is_symmetric:
            raise InvalidKey("a symmetric key has no public part; it is never published")
        else:
            members = self._public_members()
        return {**members, "kid": self._kid, "alg": self._alg, "use": "sig"}

    def to_pem(self, *, passphrase: _Passphrase) -> bytes:
        """The private key as PKCS#8 PEM, encrypted with ``passphrase`` (required)."""
        if self._private is None or self.is_symmetric:
            raise InvalidKey("only an asymmetric private key can be written as PEM")
        password = _passphrase_bytes(passphrase)
        return bytes(
            self._private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password),
            )
        )

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM."""
        if self.is_symmetric:
            raise InvalidKey("a symmetric key has no public part")
        return bytes(
            self._public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def save(self, path: str | os.PathLike[str], *, passphrase: _Passphrase) -> None:
        """Write :meth:`to_pem` to ``path`` with mode 0600 (never in plaintext)."""
        data = self.to_pem(passphrase=passphrase)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # O_CREAT's mode applies only to a new file: an existing one keeps
        # its (maybe world-readable) mode unless it is narrowed here.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def public(self) -> SigningKey:
        """A verify-only copy (same kid and algorithm, no private material)."""
        if self.is_symmetric:
            raise InvalidKey("a symmetric key has no public part")
        return SigningKey(alg=self._alg, private=None, public=self._public, kid=self._kid)

    # -- use ---------------------------------------------------------------

    @property
    def alg(self) -> str:
        """The one JWS algorithm this key is used with."""
        return self._alg

    @property
    def kid(self) -> str:
        """The key ID: the RFC 7638 thumbprint unless imported with its own."""
        return self._kid

    @property
    def can_sign(self) -> bool:
        return self._private is not None

    @property
    def is_symmetric(self) -> bool:
        return self._alg == "HS256"

    def sign(self, data: bytes) -> bytes:
        """The raw JWS signature over ``data`` (a JWS signing input)."""
        if self._private is None:
            raise InvalidKey("this key verifies only; it holds no private material")
        return bytes(self._algorithm.sign(data, self._private))

    def verify(self, data: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's valid signature over ``data``."""
        # A signature of the wrong length is refused before any math: an
        # all-zero or truncated ECDSA signature never reaches the curve code.
        if len(signature) != self._sig_len:
            return False
        try:
            return bool(self._algorithm.verify(data, self._public, signature))
        except ValueError:
            return False

    def sign_detached(self, payload: bytes, *, typ: str = POLICY_JWS_TYPE) -> str:
        """A compact JWS over ``payload`` with the payload segment left empty.

        RFC 7515 Appendix F: the result is ``header..signature``; the verifier
        supplies the payload again (:meth:`KeySet.verify_detached`). The header
        carries ``alg``, ``kid`` and ``typ``.
        """
        header = _jose.b64encode(_jose.dumps({"alg": self._alg, "kid": self._kid, "typ": typ}))
        signature = self.sign(header + b"." + _jose.b64encode(payload))
        return (header + b".." + _jose.b64encode(signature)).decode("ascii")

    def __repr__(self) -> str:
        kind = "symmetric" if self.is_symmetric else ("private" if self.can_sign else "public")
        return f"SigningKey(alg={self._alg!r}, kid={self._kid!r}, {kind})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("SigningKey objects cannot be pickled; export them with to_pem()")

    def _public_members(self) -> dict[str, Any]:
        if self.is_symmetric:
            return {"kty": "oct", "k": _jose.b64encode(self._public).decode("ascii")}
        return dict(self._algorithm.to_jwk(self._public, as_dict=True))


def _thumbprint(members: Mapping[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members, sorted, no whitespace."""
    required = {name: members[name] for name in _THUMBPRINT_MEMBERS[members["kty"]]}
    text = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return _jose.b64encode(hashlib.sha256(text.encode()).digest()).decode("ascii")


def _signature_length(alg: str, public: Any) -> int:
    if alg in ("ES256", "EdDSA", "HS256"):
        return 64 if alg != "HS256" else 32
    if alg == "ES384":
        return 96
    return int((public.key_size + 7) // 8)


def _check_key(alg: str, public: Any) -> None:
    if alg == "EdDSA":
        ok = isinstance(public, ed25519.Ed25519PublicKey)
        if ok and _small_order(public):
            raise InvalidKey("the Ed25519 public key has small order and is refused")
    elif alg in _CURVES:
        ok = isinstance(public, ec.EllipticCurvePublicKey) and isinstance(
            public.curve, _CURVES[alg]
        )
    elif alg in ("PS256", "RS256"):
        ok = isinstance(public, rsa.RSAPublicKey)
        if ok and public.key_size < _MIN_RSA_BITS:
            raise InvalidKey(f"RSA keys need at least {_MIN_RSA_BITS} bits")
        if ok and public.public_numbers().e < _MIN_RSA_EXPONENT:
            # NIST SP 800-56B Rev. 2 §6.2.1: 2**16 < e; a tiny exponent such as
            # 3 is what signature-forgery attacks on lax verifiers rely on.
            raise InvalidKey("RSA keys need a public exponent of at least 65537")
    else:
        ok = False
    if not ok:
        raise InvalidKey(f"the key does not fit algorithm {alg}")


def _small_order(public: ed25519.Ed25519PublicKey) -> bool:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw[:31] + bytes([raw[31] & 0x7F]) in _SMALL_ORDER_ED25519


def _alg_for_public(public: Any, alg: str | None) -> str:
    if alg is not None:
        if alg not in ALGORITHMS or alg == "HS256":
            raise InvalidKey(f"unsupported algorithm for a PEM key: {alg}")
        return alg
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public, ec.EllipticCurvePublicKey):
        for name, curve in _CURVES.items():
            if isinstance(public.curve, curve):
                return name
    if isinstance(public, rsa.RSAPublicKey):
        raise InvalidKey("an RSA key needs alg='RS256' or alg='PS256'")
    raise InvalidKey("unsupported key type")


def _jwk_mapping(jwk: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(jwk, str):
        return _jose.loads_object(jwk.encode("utf-8"), "JWK")
    if not isinstance(jwk, Mapping):
        raise InvalidKey("a JWK is a mapping or JSON text")
    return dict(jwk)


def _choose_alg(data: Mapping[str, Any], alg: str | None) -> str:
    use = data.get("use", "sig")
    if use != "sig":
        raise InvalidKey("the JWK is not a signature key (use is not 'sig')")
    ops = data.get("key_ops")
    if ops is not None and (
        not isinstance(ops, list) or not {"sign", "verify"} & set(map(str, ops))
    ):
        # RFC 7517 §4.3: key_ops restricts what the key may be used for.
        raise InvalidKey("the JWK's key_ops do not allow signing or verifying")
    declared = data.get("alg")
    if alg is not None and declared is not None and alg != declared:
        raise InvalidKey("the JWK alg differs from the requested algorithm")
    chosen = alg or declared or _implied_alg(data)
    if chosen not in ALGORITHMS:
        raise InvalidKey("unsupported JWK algorithm")
    return str(chosen)


def _implied_alg(data: Mapping[str, Any]) -> str:
    kty, crv = data.get("kty"), data.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    if kty == "EC" and isinstance(crv, str) and crv in _CURVE_ALG:
        return _CURVE_ALG[crv]
    if kty == "oct":
        return "HS256"
    raise InvalidKey("the JWK names no alg and its key type does not imply one")


def _load_jwk(alg: str, data: dict[str, Any]) -> Any:
    try:
        return _algorithm(alg).from_jwk(data)
    except (jwt.exceptions.PyJWTError, ValueError, TypeError, KeyError, UnsupportedAlgorithm):
        raise InvalidKey(f"the JWK is not a valid {alg} key") from None


def _passphrase_bytes(passphrase: _Passphrase) -> bytes:
    value = passphrase.reveal() if isinstance(passphrase, Secret) else passphrase
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if not isinstance(raw, bytes) or not raw:
        raise InvalidKey("a non-empty passphrase is required")
    return raw
