"""Verified claims and the payload rules of RFC 9068 / RFC 7519."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import attrs

from meshsec.tokens._errors import (
    BindingMismatch,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
)

__all__ = ["Claims"]

CNF_X5T: str = "x5t#S256"
# Deeper JSON than this is refused: no access token needs it, and walking it
# recursively (a signed payload of 500 nested "[" fits in 8 KiB) would end in
# RecursionError instead of a TokenError.
_MAX_DEPTH = 64


@attrs.frozen(kw_only=True)
class Claims:
    """What a verified access token says.

    ``scopes`` comes from the space-separated ``scope`` claim, ``actor`` is the
    ``sub`` of the outermost ``act`` claim (RFC 8693 §4.1: the party acting
    now), ``raw`` is the whole verified payload (read-only).
    """

    subject: str
    issuer: str
    audience: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: datetime
    token_id: str
    client_id: str | None = None
    actor: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The verified payload as a plain dict (lists, not tuples), e.g. for JSON."""
        return dict(thaw(self.raw))

    @property
    def actor_chain(self) -> tuple[str, ...]:
        """Every actor from the current one back to the first (RFC 8693 §4.1)."""
        chain: list[str] = []
        act = self.raw.get("act")
        while isinstance(act, Mapping) and isinstance(act.get("sub"), str):
            chain.append(act["sub"])
            act = act.get("act")
        return tuple(chain)


def validate(
    payload: dict[str, Any], *, issuer: str, audience: str, now: float, leeway: float
) -> tuple[Claims, float]:
    """Check the payload; return the claims and the ``exp`` they are valid until.

    The time checks allow ``leeway`` seconds of clock skew either way.
    """
    found_issuer = _string(payload, "iss")
    if found_issuer != issuer:
        raise WrongIssuer("the token was issued by another issuer")
    audiences = _audiences(payload)
    if audience not in audiences:
        raise WrongAudience("the token is not meant for this audience")
    expires = _number(payload, "exp")
    if expires is None:
        raise MissingClaim("the token has no exp claim")
    if now >= expires + leeway:
        raise TokenExpired("the token has expired")
    for name in ("nbf", "iat"):
        moment = _number(payload, name)
        if moment is not None and moment > now + leeway:
            raise TokenNotYetValid(f"the token is not valid yet ({name} lies in the future)")
    claims = Claims(
        subject=_string(payload, "sub"),
        issuer=found_issuer,
        audience=audiences,
        scopes=_scopes(payload),
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        token_id=_string(payload, "jti"),
        client_id=_optional_string(payload, "client_id"),
        actor=_actor(payload),
        raw=_frozen(payload, 0),
    )
    _check_confirmation(payload)
    return claims, expires


def _frozen(value: Any, depth: int) -> Any:
    """A read-only deep view: cached claims are shared by every later cache hit."""
    if depth > _MAX_DEPTH and isinstance(value, dict | list):
        raise MalformedToken("the token payload is nested too deeply")
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list):
        return tuple([_frozen(v, depth + 1) for v in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, JSON-serializable copy of a value from :attr:`Claims.raw`."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _string(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise MissingClaim(f"the token has no {name} claim (a non-empty string)")
    return value


def _optional_string(payload: Mapping[str, Any], name: str) -> str | None:
    if name not in payload:
        return None
    return _string(payload, name)


def _number(payload: Mapping[str, Any], name: str) -> float | None:
    if name not in payload:
        return None
    value = payload[name]
    # RFC 7519 §2 NumericDate: a JSON number; booleans are not numbers.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MissingClaim(f"the token's {name} claim is not a NumericDate")
    try:
        seconds = float(value)
    except OverflowError:  # a huge JSON integer
        raise MissingClaim(f"the token's {name} claim is out of range") from None
    if not math.isfinite(seconds) or abs(seconds) > 253402300799:  # year 9999
        raise MissingClaim(f"the token's {name} claim is out of range")
    return seconds


def _audiences(payload: Mapping[str, Any]) -> tuple[str, ...]:
    value = payload.get("aud")
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(a, str) and a for a in value):
        return tuple(value)
    raise MissingClaim("the token has no aud claim (a string or a list of strings)")


def _scopes(payload: Mapping[str, Any]) -> frozenset[str]:
    if "scope" not in payload:
        return frozenset()
    value = payload["scope"]
    if not isinstance(value, str):
        raise MissingClaim("the token's scope claim is not a space-separated string")
    # RFC 6749 §3.3: scope tokens are separated by spaces (%x20) only. str.split()
    # would also split on tabs, U+001C..U+001F, U+2003 and the like, turning
    # one odd scope "read\u2003admin" into the two scopes "read" and "admin".
    return frozenset(value.split(" ")) - {""}


def _actor(payload: Mapping[str, Any]) -> str | None:
    if "act" not in payload:
        return None
    # RFC 8693 §4.1: every level of the chain is an object naming its actor;
    # a malformed inner level must not silently cut Claims.actor_chain short.
    act = payload["act"]
    actor: str | None = None
    while True:
        if not isinstance(act, Mapping):
            raise MissingClaim("the token's act claim is not an object")
        name = _string(act, "sub")
        actor = actor or name
        if "act" not in act:
            return actor
        act = act["act"]


def _check_confirmation(payload: Mapping[str, Any]) -> None:
    if "cnf" not in payload:
        return
    cnf = payload["cnf"]
    # Fail closed on any confirmation method meshsec cannot check (e.g. DPoP's
    # jkt): a bound token must never verify as a bearer token.
    if not isinstance(cnf, Mapping) or set(cnf) != {CNF_X5T} or not isinstance(cnf[CNF_X5T], str):
        raise BindingMismatch("the token uses a confirmation method meshsec cannot check")
