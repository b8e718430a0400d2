"""Strict JOSE encoding: canonical base64url and duplicate-free JSON.

PyJWT accepts padded base64url and parses JSON with the last duplicate key
winning; both let two parsers read one token differently (RFC 8725 §3.10,
RFC 7515 §2 base64url without padding). Every token byte meshsec reads goes
through the functions here first, so the header and payload are decoded
exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, NoReturn

from meshsec.tokens._errors import MalformedToken

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# Bits that must be zero in the last character of a canonical encoding,
# indexed by len(segment) % 4 (RFC 4648 §3.5: pad bits are zero).
_PAD_BITS = {0: 0, 2: 0x0F, 3: 0x03}


class _Malformed(ValueError):  # noqa: N818  private signal, never escapes this module
    """Raised inside the JSON hooks; turned into MalformedToken by the caller."""


def b64encode(data: bytes) -> bytes:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64decode(segment: bytes) -> bytes:
    """Decode unpadded, canonical base64url or raise MalformedToken.

    Rejects padding, characters outside the URL-safe alphabet and non-zero pad
    bits, so each byte string has exactly one accepted encoding.
    """
    remainder = len(segment) % 4
    if remainder == 1 or segment.translate(None, _ALPHABET):
        raise MalformedToken("a token segment is not unpadded base64url")
    if remainder and _VALUE[segment[-1]] & _PAD_BITS[remainder]:
        raise MalformedToken("a token segment is not canonical base64url")
    padded = segment.translate(_TO_STANDARD) + b"=" * (-len(segment) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:  # unreachable after the checks above; kept as a guard
        raise MalformedToken("a token segment is not base64url") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Malformed("duplicate member name")
    return result


def _constant(name: str) -> NoReturn:
    raise _Malformed(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def loads_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse a UTF-8 JSON object strictly or raise MalformedToken.

    Duplicate member names, NaN/Infinity and non-objects are rejected; deep
    nesting surfaces as MalformedToken, never as RecursionError.
    """
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # _Malformed and json.JSONDecodeError are both ValueErrors.
        raise MalformedToken(f"the token {what} is not a valid JSON object") from None
    if not isinstance(value, dict):
        raise MalformedToken(f"the token {what} is not a JSON object")
    return value


def dumps(value: object) -> bytes:
    """Compact JSON as signed by meshsec (no whitespace, UTF-8)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
