"""Compact JWS parsing and the header checks shared by tokens and detached JWS.

The order is fixed: split, decode the header once, refuse what RFC 8725 says
to refuse, pick the key by ``kid``, then require the header ``alg`` to equal
the key's pinned algorithm. Signature failures all raise one BadSignature
with one message (no oracle on why a signature failed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from meshsec.tokens import _jose
from meshsec.tokens._errors import (
    AlgorithmNotAllowed,
    BadSignature,
    ForbiddenHeader,
    MalformedToken,
    UnknownCritical,
    UnknownKey,
    WrongTokenType,
)
from meshsec.tokens._keys import SigningKey

# RFC 8725 §3.10 / RFC 7515 §4.1.2-4.1.6: key material or key locations taken
# from the token itself let the attacker choose the key; never followed.
# b64 (RFC 7797) changes how the payload is read; meshsec never emits it.
_FORBIDDEN: Final = ("jwk", "jku", "x5u", "x5c", "b64")
_MAX_KID: Final = 256
_BAD_SIGNATURE: Final = "the token signature is invalid"

KeyLookup = Callable[[str], SigningKey | None]


def split(token: bytes) -> tuple[bytes, bytes, bytes]:
    """The three compact segments, or MalformedToken."""
    parts = token.split(b".")
    if len(parts) != 3:
        raise MalformedToken("a compact JWS has exactly three segments")
    return parts[0], parts[1], parts[2]


def normalize_typ(typ: str) -> str:
    """RFC 7515 §4.1.9: media types compare case-insensitively, application/ optional."""
    lowered = typ.lower()
    return lowered.removeprefix("application/")


def check_header(header: dict[str, Any], typ: str, lookup: KeyLookup) -> SigningKey:
    """Apply every header rule; return the key the ``kid`` selects.

    ``typ`` is the expected, already normalized type.
    """
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg or alg.strip().lower() == "none":
        # RFC 8725 §3.1: unsecured JWS is never acceptable, in any spelling.
        raise AlgorithmNotAllowed("the token algorithm is not allowed")
    for name in _FORBIDDEN:
        if name in header:
            raise ForbiddenHeader(f"the token header parameter {name!r} is not accepted")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient that does not understand a listed
        # extension must reject; meshsec implements none.
        raise UnknownCritical("the token lists critical header extensions meshsec does not support")
    found_typ = header.get("typ")
    if not isinstance(found_typ, str) or normalize_typ(found_typ) != typ:
        # RFC 8725 §3.11 / RFC 9068 §2.1: explicit typing stops cross-JWT confusion.
        raise WrongTokenType(f"the token type must be {typ!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID:
        raise UnknownKey("the token names no usable key ID (kid)")
    key = lookup(kid)
    if key is None:
        raise UnknownKey("no trusted key has the token's key ID (kid)")
    if alg != key.alg:
        # RFC 8725 §3.1: the key's algorithm is pinned; a differing header
        # (e.g. HS256 against an RSA key, CVE-2022-29217) is refused.
        raise AlgorithmNotAllowed("the token algorithm does not match its key")
    return key


def check_signature(key: SigningKey, signing_input: bytes, signature_segment: bytes) -> None:
    """Raise BadSignature unless the segment is the key's signature over the input."""
    try:
        signature = _jose.b64decode(signature_segment)
    except MalformedToken:
        raise BadSignature(_BAD_SIGNATURE) from None
    if not key.verify(signing_input, signature):
        raise BadSignature(_BAD_SIGNATURE)
