"""The access-token issuer and in-process token exchange (RFC 9068, RFC 8693)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError
from meshsec.stores import Store
from meshsec.tokens import _events, _jose
from meshsec.tokens._claims import CNF_X5T, thaw
from meshsec.tokens._errors import ScopeEscalation
from meshsec.tokens._keys import SigningKey
from meshsec.tokens._keyset import KeySet
from meshsec.tokens._principals import CertificateLike, Principal, audiences, principal
from meshsec.tokens._revocation import RevocationList, as_revocation_list
from meshsec.tokens._verifier import (
    ACCESS_TOKEN_TYPE,
    TokenVerifier,
    certificate_thumbprint,
)

__all__ = ["RESERVED_CLAIMS", "TokenIssuer"]

#: Claims the issuer sets itself; ``claims=`` cannot override them.
RESERVED_CLAIMS: Final = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "cnf", "act"}
)


class TokenIssuer:
    """Issue short-lived JWT access tokens signed by ``keys.primary``.

    Every token carries ``typ: at+jwt``, ``kid`` and ``alg`` in its header and
    ``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` (128 random
    bits), ``client_id`` and, when scoped, ``scope`` in its payload. Lifetimes
    default to ``default_ttl`` and may never exceed ``max_ttl``.
    """

    def __init__(
        self,
        *,
        issuer: Principal,
        keys: KeySet | SigningKey,
        default_ttl: timedelta = timedelta(minutes=5),
        max_ttl: timedelta = timedelta(hours=1),
        revocations: RevocationList | Store | None = None,
        clock: Clock = system_clock,
    ) -> None:
        issuer = principal(issuer)
        if not isinstance(issuer, str) or not issuer:
            raise ConfigError("a TokenIssuer needs a non-empty issuer")
        if isinstance(keys, SigningKey):
            keys = KeySet([keys])  # one key: a key set of one, which it signs for
        if not isinstance(keys, KeySet):
            raise ConfigError("keys is a KeySet whose primary key signs")
        if not (
            isinstance(default_ttl, timedelta)
            and isinstance(max_ttl, timedelta)
            and timedelta(0) < default_ttl <= max_ttl
        ):
            raise ConfigError("default_ttl must be positive and at most max_ttl")
        keys.primary  # noqa: B018  fail now, not at the first issue(), if no key can sign
        self._issuer = issuer
        self._keys = keys
        self._default_ttl = default_ttl.total_seconds()
        self._max_ttl = max_ttl.total_seconds()
        self._revocations = as_revocation_list(revocations, clock=clock)
        self._clock = clock
        self._headers: dict[str, bytes] = {}

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def keys(self) -> KeySet:
        return self._keys

    def issue(
        self,
        subject: Principal,
        audience: Principal | Sequence[Principal],
        *,
        scopes: Iterable[str] = (),
        ttl: timedelta | None = None,
        claims: Mapping[str, Any] | None = None,
        bind_to: CertificateLike | None = None,
        client_id: str | None = None,
    ) -> str:
        """A signed access token for ``subject`` to present to ``audience``.

        ``claims`` adds non-reserved claims; ``bind_to`` (the client's
        certificate) adds ``cnf.x5t#S256`` (RFC 8705 §3.1); ``client_id``
        defaults to ``subject``. Raises ConfigError for invalid arguments.
        """
        lifetime = self._lifetime(ttl)
        payload = self._payload(principal(subject), audiences(audience), scopes, claims, client_id)
        if bind_to is not None:
            payload["cnf"] = {CNF_X5T: certificate_thumbprint(bind_to)}
        return self._sign(payload, lifetime)

    def exchange(
        self,
        subject_token: str,
        *,
        audience: Principal | Sequence[Principal],
        scopes: Iterable[str],
        actor: Principal,
        ttl: timedelta | None = None,
        bind_to: CertificateLike | None = None,
        peer_certificate: CertificateLike | None = None,
    ) -> str:
        """RFC 8693 delegation, in process: a token for ``audience`` naming ``actor``.

        ``subject_token`` must be one of this issuer's access tokens addressed
        to ``actor`` (the service now acting on the subject's behalf); it is
        verified fully first (``peer_certificate`` for bound tokens). The new
        token keeps its ``sub``, carries ``scopes`` (which must be a subset of
        the subject token's, else ScopeEscalation), adds ``act: {"sub": actor}``
        nesting any earlier ``act`` (RFC 8693 §4.1), and never outlives the
        subject token. SPIFFE IDs may stand for ``audience`` and ``actor``; a
        WorkloadIdentity or a TLS connection for the certificates.
        """
        actor_id, audience_ids = principal(actor), audiences(audience)
        verifier = TokenVerifier(
            issuer=self._issuer,
            audience=actor_id,
            keys=self._keys,
            revocations=self._revocations,
            cache_size=0,
            clock=self._clock,
        )
        original = verifier.verify(subject_token, peer_certificate=peer_certificate)
        wanted = _scope_list(scopes)
        if not set(wanted) <= original.scopes:
            _events.record(
                "TOKEN",
                "token.exchange",
                "DENIED",
                reason=ScopeEscalation.code,
                actor=actor_id,
                target=original.subject,
                clock=self._clock,
            )
            raise ScopeEscalation("token exchange cannot add scopes the subject token lacks")
        remaining = original.expires_at.timestamp() - self._clock()
        lifetime = min(self._lifetime(ttl), remaining)
        payload = self._payload(original.subject, audience_ids, wanted, None, actor_id)
        act: dict[str, Any] = {"sub": actor_id}
        if "act" in original.raw:
            act["act"] = thaw(original.raw["act"])
        payload["act"] = act
        if bind_to is not None:
            payload["cnf"] = {CNF_X5T: certificate_thumbprint(bind_to)}
        token = self._sign(payload, lifetime, cap=original.expires_at.timestamp())
        _events.record(
            "TOKEN",
            "token.exchange",
            "SUCCESS",
            actor=actor_id,
            target=original.subject,
            clock=self._clock,
        )
        return token

    def _lifetime(self, ttl: timedelta | None) -> float:
        if ttl is not None and not isinstance(ttl, timedelta):
            raise ConfigError("ttl is a datetime.timedelta")
        seconds = self._default_ttl if ttl is None else ttl.total_seconds()
        if not 0 < seconds <= self._max_ttl:
            raise ConfigError("ttl must be positive and at most the issuer's max_ttl")
        return seconds

    def _payload(
        self,
        subject: str,
        audience: str | Sequence[str],
        scopes: Iterable[str],
        claims: Mapping[str, Any] | None,
        client_id: str | None,
    ) -> dict[str, Any]:
        if not isinstance(subject, str) or not subject:
            raise ConfigError("subject is a non-empty string")
        payload: dict[str, Any] = dict(claims) if claims else {}
        if claims and not RESERVED_CLAIMS.isdisjoint(payload):
            raise ConfigError("claims cannot override the reserved claims the issuer sets")
        payload["iss"] = self._issuer
        payload["sub"] = subject
        payload["aud"] = _audience(audience)
        if client_id is not None and (not isinstance(client_id, str) or not client_id):
            raise ConfigError("client_id is a non-empty string")
        payload["client_id"] = client_id or subject
        scope = _scope_list(scopes)
        if scope:
            payload["scope"] = " ".join(scope)
        return payload

    def _sign(self, payload: dict[str, Any], lifetime: float, cap: float | None = None) -> str:
        now = int(self._clock())
        payload["iat"] = payload["nbf"] = now
        expires = now + max(1, int(lifetime))
        payload["exp"] = expires if cap is None else min(expires, int(cap))
        # RFC 9068 §2.2 / RFC 7519 §4.1.7: 128 random bits per token.
        payload["jti"] = secrets.token_urlsafe(16)
        key = self._keys.primary
        try:
            body = _jose.b64encode(_jose.dumps(payload))
        except (TypeError, ValueError, RecursionError):
            raise ConfigError("claims must be JSON-serializable") from None
        signing_input = self._header(key) + b"." + body
        return (signing_input + b"." + _jose.b64encode(key.sign(signing_input))).decode("ascii")

    def _header(self, key: SigningKey) -> bytes:
        header = self._headers.get(key.kid)
        if header is None:
            fields = {"alg": key.alg, "kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
            header = self._headers[key.kid] = _jose.b64encode(_jose.dumps(fields))
        return header

    def __repr__(self) -> str:
        return f"TokenIssuer(issuer={self._issuer!r})"


def _audience(audience: str | Sequence[str]) -> str | list[str]:
    if isinstance(audience, str):
        if audience:
            return audience
    elif audience and all(isinstance(a, str) and a for a in audience):
        return audience[0] if len(audience) == 1 else list(audience)
    raise ConfigError("audience is a non-empty string or a list of them")


def _scope_list(scopes: Iterable[str]) -> list[str]:
    names = scopes.split() if isinstance(scopes, str) else list(scopes)
    for name in names:
        # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if (
            not isinstance(name, str)
            or not name
            or any(c in ' "\\' or not 0x21 <= ord(c) <= 0x7E for c in name)
        ):
            raise ConfigError("each scope is a non-empty printable ASCII word")
    return list(dict.fromkeys(names))
