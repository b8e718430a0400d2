"""Shared helpers for the token tests: hand-built tokens and cached keys."""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from meshsec.tokens import SigningKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    """A JSON value (or raw bytes) as an unpadded base64url segment."""
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64(raw)


def forge(header: dict[str, Any], payload: dict[str, Any] | bytes, key: SigningKey | None) -> str:
    """Build a compact JWS by hand, signed with ``key`` whatever the header says."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = key.sign(signing_input.encode()) if key is not None else b""
    return f"{signing_input}.{b64(signature)}"


@cache
def key_for(alg: str) -> SigningKey:
    """One key per algorithm for the whole session (RSA generation is slow)."""
    return SigningKey.generate(alg, rsa_bits=2048)
