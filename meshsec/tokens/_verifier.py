"""The access-token verifier (RFC 9068, RFC 8725, RFC 8705)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError, MeshsecError
from meshsec.stores import Store
from meshsec.tokens import _events, _jose, _jws
from meshsec.tokens._cache import VerifiedCache
from meshsec.tokens._claims import CNF_X5T, Claims, validate
from meshsec.tokens._errors import (
    BindingMismatch,
    InsufficientScope,
    MalformedToken,
    TokenReplayed,
    TokenRevoked,
    TokenTooLarge,
)
from meshsec.tokens._keys import SigningKey
from meshsec.tokens._keyset import KeySet
from meshsec.tokens._principals import CertificateLike, Principal, principal
from meshsec.tokens._principals import certificate as _as_certificate
from meshsec.tokens._revocation import RevocationList, as_revocation_list

__all__ = ["ACCESS_TOKEN_TYPE", "KeySource", "TokenVerifier", "certificate_thumbprint"]

#: The JWT ``typ`` of an access token (RFC 9068 §2.1).
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105  a media type, not a password
MAX_LEEWAY: Final = timedelta(minutes=5)


class KeySource(Protocol):
    """Where a verifier finds keys: a :class:`KeySet` or a :class:`JWKSClient`."""

    @property
    def version(self) -> int: ...

    def get(self, kid: str) -> SigningKey | None: ...


Certificate = x509.Certificate | bytes


class TokenVerifier:
    """Verify access tokens for one audience from one issuer.

    Every check RFC 9068 and RFC 8725 ask for is always on: the algorithm
    comes from the key the ``kid`` selects, ``typ`` must be ``at+jwt``,
    ``iss`` must equal ``issuer``, ``aud`` must contain ``audience``, ``exp``,
    ``sub`` and ``jti`` are required, ``nbf``/``iat`` are checked with
    ``leeway`` (at most five minutes). Tokens longer than ``max_token_bytes``
    are refused unparsed. With ``revocations`` a revoked ``jti`` fails and
    one-time tokens are possible. Verified tokens are cached (``cache_size``
    entries, 0 disables) by their SHA-256; a hit still checks expiry,
    revocation, scopes and certificate binding.

    ``revocations`` is a :class:`RevocationList` or a bare
    :class:`~meshsec.stores.Store` (wrapped in a RevocationList);
    ``unsafe_fail_open=True`` with a bare store lets checks pass, audited,
    while the store is down (default: StoreUnavailable, fail closed).
    """

    def __init__(
        self,
        *,
        issuer: Principal,
        audience: Principal,
        keys: KeySource | SigningKey,
        leeway: timedelta = timedelta(seconds=30),
        max_token_bytes: int = 8192,
        revocations: RevocationList | Store | None = None,
        cache_size: int = 1024,
        clock: Clock = system_clock,
        unsafe_fail_open: bool = False,
    ) -> None:
        issuer, audience = principal(issuer), principal(audience)
        if (
            not issuer
            or not isinstance(issuer, str)
            or not audience
            or not isinstance(audience, str)
        ):
            raise ConfigError("a TokenVerifier needs a non-empty issuer and audience")
        if not isinstance(leeway, timedelta) or not timedelta(0) <= leeway <= MAX_LEEWAY:
            raise ConfigError("leeway must be between 0 and 5 minutes")
        if max_token_bytes < 64 or cache_size < 0:
            raise ConfigError("max_token_bytes must be >= 64 and cache_size >= 0")
        if isinstance(keys, SigningKey):
            keys = _single_key_set(keys)
        if not (callable(getattr(keys, "get", None)) and hasattr(keys, "version")):
            raise ConfigError("keys is a KeySet or a JWKSClient")
        self._issuer = issuer
        self._audience = audience
        self._keys = keys
        self._leeway = leeway.total_seconds()
        self._max_bytes = max_token_bytes
        self._revocations = as_revocation_list(
            revocations, clock=clock, unsafe_fail_open=unsafe_fail_open
        )
        self._cache = VerifiedCache(cache_size) if cache_size else None
        self._clock = clock

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def audience(self) -> str:
        return self._audience

    @property
    def revocations(self) -> RevocationList | None:
        """The verifier's revocation list (``revoke(jti, until)``, ``is_revoked(jti)``)."""
        return self._revocations

    def verify(
        self,
        token: str | bytes,
        *,
        scopes: Iterable[str] | str | None = (),
        peer_certificate: CertificateLike | None = None,
        one_time: bool = False,
    ) -> Claims:
        """Return the token's claims, or raise a TokenError subclass.

        ``scopes`` must all be granted. ``peer_certificate`` (the client's TLS
        certificate, a cryptography Certificate or DER bytes) is required for
        certificate-bound tokens (RFC 8705 §3). ``one_time=True`` accepts the
        token only once (needs ``revocations``; ConfigError otherwise). A
        store outage raises StoreUnavailable (fail closed). Each failure
        records one TOKEN/FAILURE audit event with the error code; the token
        itself is never recorded.
        """
        if one_time and self._revocations is None:
            raise ConfigError("one_time=True needs a TokenVerifier with revocations")
        try:
            return self._verify(token, _scope_set(scopes), peer_certificate, one_time)
        except MeshsecError as exc:
            _events.record(
                "TOKEN",
                "token.verify",
                "FAILURE",
                reason=exc.code,
                target=self._audience,
                attributes={"issuer": self._issuer},
                clock=self._clock,
            )
            raise

    def revoke(self, jti: str, until: float | datetime) -> None:
        """Revoke ``jti`` until ``until`` (give the token's exp plus the leeway)."""
        if self._revocations is None:
            raise ConfigError("this TokenVerifier has no revocation list")
        self._revocations.revoke(jti, until)
        _events.record("TOKEN", "token.revoke", "SUCCESS", target=self._audience, clock=self._clock)

    def _verify(
        self,
        token: object,
        required: frozenset[str],
        peer: CertificateLike | None,
        one_time: bool,
    ) -> Claims:
        raw = self._token_bytes(token)
        now = self._clock()
        version = self._keys.version
        digest = hashlib.sha256(raw).digest()
        claims = self._cache.get(digest, now, version) if self._cache is not None else None
        if claims is None:
            claims, expires = self._verify_uncached(raw, now)
            if self._cache is not None:
                self._cache.put(digest, claims, expires + self._leeway, version)
        self._check_request(claims, required, peer, one_time)
        return claims

    def _token_bytes(self, token: object) -> bytes:
        if isinstance(token, str):
            # The size check comes before any parsing (RFC 8725 §3.x spirit:
            # bound the work an unauthenticated caller can cause).
            if len(token) > self._max_bytes:
                raise TokenTooLarge("the token is larger than this verifier accepts")
            try:
                return token.encode("ascii")
            except UnicodeEncodeError:
                raise MalformedToken("a compact JWS is ASCII") from None
        if isinstance(token, bytes | bytearray | memoryview):
            if len(token) > self._max_bytes:
                raise TokenTooLarge("the token is larger than this verifier accepts")
            return bytes(token)
        raise MalformedToken("a token is a str or bytes")

    def _verify_uncached(self, raw: bytes, now: float) -> tuple[Claims, float]:
        header_segment, payload_segment, signature_segment = _jws.split(raw)
        header = _jose.loads_object(_jose.b64decode(header_segment), "header")
        key = _jws.check_header(header, ACCESS_TOKEN_TYPE, self._keys.get)
        signing_input = raw[: len(header_segment) + 1 + len(payload_segment)]
        _jws.check_signature(key, signing_input, signature_segment)
        payload = _jose.loads_object(_jose.b64decode(payload_segment), "payload")
        return validate(
            payload, issuer=self._issuer, audience=self._audience, now=now, leeway=self._leeway
        )

    def _check_request(
        self, claims: Claims, required: frozenset[str], peer: CertificateLike | None, one_time: bool
    ) -> None:
        if not required <= claims.scopes:
            raise InsufficientScope("the token lacks a required scope")
        cnf = claims.raw.get("cnf")
        if cnf is not None:
            _check_binding(cnf[CNF_X5T], peer)
        if self._revocations is not None:
            if self._revocations.is_revoked(claims.token_id):
                raise TokenRevoked("the token has been revoked")
            until = claims.expires_at.timestamp() + self._leeway
            if one_time and not self._revocations.consume_once(claims.token_id, until):
                raise TokenReplayed("this one-time token was already used")

    def __repr__(self) -> str:
        return f"TokenVerifier(issuer={self._issuer!r}, audience={self._audience!r})"


def _single_key_set(key: SigningKey) -> KeySource:
    return KeySet([key if key.is_symmetric else key.public()])


def _scope_set(scopes: Iterable[str] | str | None) -> frozenset[str]:
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    try:
        names = frozenset(scopes)
    except TypeError:
        raise ConfigError("scopes is an iterable of scope strings") from None
    if not all(isinstance(name, str) for name in names):
        raise ConfigError("scopes is an iterable of scope strings")
    return names


def certificate_thumbprint(certificate: CertificateLike) -> str:
    """RFC 8705 §3.1: base64url SHA-256 of the DER certificate (``x5t#S256``).

    ``certificate`` is a cryptography Certificate, DER bytes, a
    WorkloadIdentity (its leaf) or a TLS connection (its peer's certificate).
    Raises ConfigError for anything else (``bytes(5)`` would otherwise bind
    to five zero bytes).
    """
    found = _as_certificate(certificate)
    if isinstance(found, x509.Certificate):
        der = found.public_bytes(serialization.Encoding.DER)
    elif isinstance(found, bytes | bytearray) and found:
        der = bytes(found)
    else:
        raise ConfigError("a certificate is a cryptography Certificate or DER bytes")
    return _jose.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def _check_binding(expected: Any, peer: CertificateLike | None) -> None:
    if peer is None:
        raise BindingMismatch("the token is bound to a client certificate; none was presented")
    if not isinstance(_as_certificate(peer), x509.Certificate | bytes | bytearray):
        raise ConfigError("peer_certificate is a cryptography Certificate or DER bytes")
    found = certificate_thumbprint(peer).encode("ascii")
    if not hmac.compare_digest(found, str(expected).encode("utf-8", "surrogatepass")):
        raise BindingMismatch("the token is bound to a different client certificate")
