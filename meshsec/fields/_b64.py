"""Strict, canonical unpadded base64url (RFC 4648 section 5)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

__all__ = ["b64d", "b64e"]

_ALPHABET: Final = re.compile(r"[A-Za-z0-9_-]*")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode unpadded base64url; raises ValueError on anything non-canonical.

    Canonical means re-encoding gives the same text: a character whose unused
    low bits differ would otherwise decode to the same bytes, so a bit flip in
    the last character of an envelope could go unnoticed.
    """
    if len(text) % 4 == 1 or _ALPHABET.fullmatch(text) is None:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if b64e(data) != text:
        raise ValueError("not canonical base64url")
    return data
