"""Deliberately bad certificates for refusal tests (never part of the public API).

Every function returns ``(certificate, private_key)`` signed by ``ca`` with
exactly the CA's own leaf builder (``meshsec.identity._ca._build_leaf``), so
the only difference from a good SVID is the one property named by the
function. ``write_pem`` puts a pair on disk the way an agent (SPIRE,
cert-manager) would: chain PEM plus an unencrypted key, 0600, for openssl.

    expired_leaf(ca, spiffe_id)            validity ended an hour ago
    not_yet_valid_leaf(ca, spiffe_id)      validity starts in an hour
    leaf_without_uri_san(ca)               DNS SAN only, no SPIFFE ID
    leaf_with_two_uri_sans(ca, a, b)       two URI SANs (X509-SVID allows one)
    ca_flagged_leaf(ca, spiffe_id)         CA:TRUE and keyCertSign on a leaf
    leaf_with_uri(ca, uri)                 any URI SAN text, even a non-SPIFFE one
    custom_leaf(ca, uris=..., ...)         every knob at once
    write_pem(directory, name, cert, key, chain=())  -> (cert_path, key_path)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meshsec.clock import to_datetime
from meshsec.identity import CertificateAuthority, SpiffeId
from meshsec.identity._ca import _build_leaf
from meshsec.identity._keys import PrivateKey, generate_private_key

__all__ = [
    "ca_flagged_leaf",
    "custom_leaf",
    "expired_leaf",
    "generate_private_key",
    "leaf_with_two_uri_sans",
    "leaf_with_uri",
    "leaf_without_uri_san",
    "not_yet_valid_leaf",
    "write_pem",
]

Pair = tuple[x509.Certificate, PrivateKey]


def custom_leaf(
    ca: CertificateAuthority,
    *,
    uris: Sequence[str | SpiffeId] = (),
    dns_names: Sequence[str] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    is_ca: bool = False,
    key_type: str = "ec-p256",
) -> Pair:
    """A leaf signed by ``ca`` with every value chosen by the test (no checks at all)."""
    now = to_datetime(ca.clock)
    key = generate_private_key(key_type)
    cert = _build_leaf(
        issuer=ca.certificate,
        issuer_key=ca._key,  # test helper: reaches into the CA on purpose
        public_key=key.public_key(),
        uris=[str(u) for u in uris],
        dns_names=dns_names,
        not_before=not_before or now - timedelta(minutes=1),
        not_after=not_after or now + timedelta(hours=1),
        is_ca=is_ca,
    )
    return cert, key


def expired_leaf(
    ca: CertificateAuthority, spiffe_id: str | SpiffeId, *, dns_names: Sequence[str] = ()
) -> Pair:
    now = to_datetime(ca.clock)
    return custom_leaf(
        ca,
        uris=[spiffe_id],
        dns_names=dns_names,
        not_before=now - timedelta(hours=2),
        not_after=now - timedelta(hours=1),
    )


def not_yet_valid_leaf(
    ca: CertificateAuthority, spiffe_id: str | SpiffeId, *, dns_names: Sequence[str] = ()
) -> Pair:
    now = to_datetime(ca.clock)
    return custom_leaf(
        ca,
        uris=[spiffe_id],
        dns_names=dns_names,
        not_before=now + timedelta(hours=1),
        not_after=now + timedelta(hours=2),
    )


def leaf_without_uri_san(
    ca: CertificateAuthority, *, dns_names: Sequence[str] = ("localhost",)
) -> Pair:
    return custom_leaf(ca, dns_names=dns_names)


def leaf_with_two_uri_sans(
    ca: CertificateAuthority,
    first: str | SpiffeId,
    second: str | SpiffeId,
    *,
    dns_names: Sequence[str] = (),
) -> Pair:
    return custom_leaf(ca, uris=[first, second], dns_names=dns_names)


def ca_flagged_leaf(
    ca: CertificateAuthority, spiffe_id: str | SpiffeId, *, dns_names: Sequence[str] = ()
) -> Pair:
    return custom_leaf(ca, uris=[spiffe_id], dns_names=dns_names, is_ca=True)


def leaf_with_uri(ca: CertificateAuthority, uri: str, *, dns_names: Sequence[str] = ()) -> Pair:
    return custom_leaf(ca, uris=[uri], dns_names=dns_names)


def write_pem(
    directory: str | os.PathLike[str],
    name: str,
    cert: x509.Certificate,
    key: PrivateKey,
    chain: Sequence[x509.Certificate] = (),
) -> tuple[Path, Path]:
    """Write ``<name>.pem`` (leaf + chain) and ``<name>.key`` (plaintext, 0600) like an agent."""
    folder = Path(directory)
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    pems = [c.public_bytes(serialization.Encoding.PEM) for c in (cert, *chain)]
    cert_path.write_bytes(b"".join(pems))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path
