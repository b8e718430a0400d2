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


def make_certificate(common_name: str = "client") -> tuple[Any, Any]:
    """A self-signed EC certificate and its private key (cryptography objects)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    return certificate, private
