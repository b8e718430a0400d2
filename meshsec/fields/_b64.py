"""Strict, canonical unpadded base64url (RFC 4648 section 5)."""

from __future__ import annotations

import binascii
from typing import Final

__all__ = ["b64d", "b64e"]

# One table both converts the URL alphabet to the standard one and turns the
# standard-only characters (and padding) into '!', which strict decoding refuses.
_TO_STANDARD: Final = bytes(
    {ord("-"): ord("+"), ord("_"): ord("/"), ord("+"): 33, ord("/"): 33, ord("="): 33}.get(i, i)
    for i in range(256)
)
_TO_URL: Final = bytes.maketrans(b"+/", b"-_")
# The last character of a 2- or 3-character tail carries 4 or 2 unused low
# bits; canonical encodings leave them zero, so only these characters fit.
_LAST_OF_2: Final = frozenset("AQgw")
_LAST_OF_3: Final = frozenset("AEIMQUYcgkosw048")
_PADDING: Final = (b"", b"", b"==", b"=")


def b64e(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URL).decode()


def b64d(text: str) -> bytes:
    """Decode unpadded base64url; raises ValueError on anything non-canonical.

    Canonical means re-encoding gives the same text: a last character whose
    unused low bits differ would otherwise decode to the same bytes, so a bit
    flip there could go unnoticed.
    """
    tail = len(text) % 4
    if (
        tail == 1
        or (tail == 2 and text[-1] not in _LAST_OF_2)
        or (tail == 3 and text[-1] not in _LAST_OF_3)
    ):
        raise ValueError("not canonical base64url")
    try:
        raw = text.encode("ascii").translate(_TO_STANDARD) + _PADDING[tail]
        return binascii.a2b_base64(raw, strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise ValueError("not base64url") from exc
