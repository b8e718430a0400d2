"""The keys a service trusts, with rotation and a JWKS view."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from meshsec.errors import ConfigError, TokenError
from meshsec.tokens import _events, _jose, _jws
from meshsec.tokens._errors import InvalidKey, MalformedToken
from meshsec.tokens._keys import POLICY_JWS_TYPE, SigningKey

__all__ = ["KeySet"]


class KeySet:
    """Keys by ``kid``; one of them, the primary, signs.

    The primary is ``primary`` (a kid) or else the first key that can sign.

    Rotation with overlap: :meth:`rotate` adds a new key and makes it the
    primary while the older keys keep verifying until :meth:`retire` removes
    them. Thread-safe: readers see one consistent snapshot. ``version``
    changes whenever the set changes (verifier caches use it).
    """

    def __init__(self, keys: Iterable[SigningKey] = (), *, primary: str | None = None) -> None:
        collected: dict[str, SigningKey] = {}
        for key in keys:
            if not isinstance(key, SigningKey):
                raise ConfigError("a KeySet holds SigningKey objects")
            if key.kid in collected:
                raise ConfigError("two keys in one KeySet share a kid")
            collected[key.kid] = key
        if primary is not None and primary not in collected:
            raise ConfigError("the primary kid is not in the key set")
        if primary is None:
            primary = next((k.kid for k in collected.values() if k.can_sign), None)
        self._lock = threading.Lock()
        self._keys: Mapping[str, SigningKey] = collected
        self._primary = primary
        self._version = 0

    @classmethod
    def generate(cls, alg: str = "EdDSA") -> KeySet:
        """A key set holding one new key for ``alg``, which is the primary."""
        return cls([SigningKey.generate(alg)])

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any] | str | bytes) -> KeySet:
        """Public keys from a JWKS document (dict or JSON text).

        Keys meshsec cannot use (encryption keys, unsupported algorithms, RSA
        keys without ``alg``) are skipped, as RFC 7517 §5 allows; a document
        that is not a JWKS, or that repeats a kid, raises InvalidKey.
        """
        document = _jwks_mapping(jwks)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise InvalidKey("a JWKS has a 'keys' list")
        keys: dict[str, SigningKey] = {}
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue  # RFC 7517 §5: keys holds JWK objects, not JSON text
            try:
                key = SigningKey.from_jwk(entry)
            except InvalidKey:
                continue
            if key.is_symmetric:
                continue  # a published document never carries shared secrets
            if key.kid in keys:
                raise InvalidKey("the JWKS repeats a kid")
            keys[key.kid] = key.public() if key.can_sign else key
        return cls(keys.values())

    def to_jwks(self) -> dict[str, Any]:
        """The public keys as a JWKS document; symmetric keys are left out."""
        keys = self._keys
        return {"keys": [k.to_jwk() for k in keys.values() if not k.is_symmetric]}

    @property
    def primary(self) -> SigningKey:
        """The key that signs; raises ConfigError if no key can sign."""
        kid, keys = self._primary, self._keys
        if kid is None:
            raise ConfigError("this key set holds no key that can sign")
        return keys[kid]

    @property
    def version(self) -> int:
        return self._version

    def get(self, kid: str) -> SigningKey | None:
        """The key with this kid, or None."""
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(tuple(self._keys.values()))

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: SigningKey, *, primary: bool = False) -> None:
        """Trust ``key`` too; with ``primary=True`` it also becomes the signer."""
        self._insert(key, primary=primary)
        _key_event("key.added", key)

    def _insert(self, key: SigningKey, *, primary: bool) -> None:
        if primary and not key.can_sign:
            raise ConfigError("a verify-only key cannot be the primary")
        with self._lock:
            if key.kid in self._keys:
                raise ConfigError("a key with this kid is already in the set")
            self._keys = {**self._keys, key.kid: key}
            if primary or (self._primary is None and key.can_sign):
                self._primary = key.kid
            self._version += 1

    def rotate(self, alg: str | None = None) -> SigningKey:
        """Generate a new key (same algorithm as the primary unless ``alg``), make it primary.

        Older keys keep verifying until retired. Returns the new key.
        """
        chosen = alg or (self.primary.alg if self._primary else "EdDSA")
        key = SigningKey.generate(chosen)
        self._insert(key, primary=True)
        _key_event("key.rotated", key)
        return key

    def promote(self, kid: str) -> None:
        """Make the key ``kid`` (already in the set, able to sign) the primary.

        For rotation with pre-publication: :meth:`add` the next key, let the
        published JWKS reach every verifier (longer than their cache max-age),
        then promote it, so no verifier ever sees an unknown kid.
        """
        with self._lock:
            key = self._keys.get(kid)
            if key is None or not key.can_sign:
                raise ConfigError("only a key in the set that can sign can be promoted")
            self._primary = kid
            self._version += 1
        _key_event("key.promoted", key)

    def retire(self, kid: str) -> None:
        """Stop trusting ``kid``. The primary cannot be retired: rotate first."""
        with self._lock:
            if kid not in self._keys:
                raise ConfigError("no key with this kid is in the set")
            if kid == self._primary:
                raise ConfigError("the primary key cannot be retired; rotate() first")
            key = self._keys[kid]
            self._keys = {k: v for k, v in self._keys.items() if k != kid}
            self._version += 1
        _key_event("key.retired", key)

    def verify_detached(self, jws: str, payload: bytes, *, typ: str | None = None) -> str:
        """Check a detached-payload JWS (RFC 7515 Appendix F) over ``payload``; return its kid.

        ``typ`` defaults to ``meshsec-policy+jws``. The same rules as for
        tokens apply (algorithm from the key, no alg none, no key-injection
        headers, no crit). Raises a TokenError subclass and records a
        TOKEN/FAILURE audit event with its code.
        """
        try:
            return self._verify_detached(jws, payload, typ)
        except TokenError as exc:
            _events.record("TOKEN", "jws.verify_detached", "FAILURE", reason=exc.code)
            raise

    def _verify_detached(self, jws: str, payload: bytes, typ: str | None) -> str:
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise MalformedToken("the detached payload is bytes")
        try:
            token = jws.encode("ascii")
        except (UnicodeEncodeError, AttributeError):
            raise MalformedToken("a JWS is an ASCII string") from None
        header_segment, payload_segment, signature_segment = _jws.split(token)
        if payload_segment:
            raise MalformedToken("a detached JWS has an empty payload segment")
        header = _jose.loads_object(_jose.b64decode(header_segment), "header")
        expected = _jws.normalize_typ(typ or POLICY_JWS_TYPE)
        key = _jws.check_header(header, expected, self.get)
        signing_input = header_segment + b"." + _jose.b64encode(payload)
        _jws.check_signature(key, signing_input, signature_segment)
        return key.kid

    def __repr__(self) -> str:
        return f"KeySet(kids={list(self._keys)!r}, primary={self._primary!r})"


def _jwks_mapping(jwks: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(jwks, str | bytes):
        raw = jwks.encode("utf-8") if isinstance(jwks, str) else jwks
        try:
            return _jose.loads_object(raw, "JWKS")
        except MalformedToken:
            raise InvalidKey("the JWKS is not a JSON object") from None
    if not isinstance(jwks, Mapping):
        raise InvalidKey("a JWKS is a mapping or JSON text")
    return jwks


def _key_event(action: str, key: SigningKey) -> None:
    _events.record("KEY", action, "SUCCESS", target=key.kid, attributes={"alg": key.alg})
