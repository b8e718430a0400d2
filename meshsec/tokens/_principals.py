"""Workload identities where tokens name principals or certificates.

Tokens carry principals as strings; services hold them as SPIFFE IDs and
their certificates as WorkloadIdentity objects or live TLS connections. These
helpers accept those types wherever a token names a subject, audience, actor
or bound certificate, so an mTLS service never converts by hand.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import TypeAlias

from cryptography.x509 import Certificate

from meshsec.errors import ConfigError
from meshsec.identity import SpiffeId, WorkloadIdentity

Principal: TypeAlias = str | SpiffeId
CertificateLike: TypeAlias = (
    Certificate | bytes | bytearray | WorkloadIdentity | ssl.SSLSocket | ssl.SSLObject
)


def principal(value: Principal) -> str:
    """A SPIFFE ID as its string form; a string unchanged (validated by the caller)."""
    return str(value) if isinstance(value, SpiffeId) else value


def audiences(value: Principal | Sequence[Principal]) -> str | Sequence[str]:
    if isinstance(value, str | SpiffeId):
        return principal(value)
    if isinstance(value, list | tuple):
        return [principal(item) for item in value]
    raise ConfigError("audience is a string, a SPIFFE ID or a list of them")


def certificate(value: CertificateLike) -> Certificate | bytes | bytearray:
    """The certificate a token binds to: a workload's leaf, or a connection's peer."""
    if isinstance(value, WorkloadIdentity):
        return value.certificate
    if isinstance(value, ssl.SSLSocket | ssl.SSLObject):
        der = value.getpeercert(binary_form=True)
        if not der:
            raise ConfigError("the connection has no peer certificate (handshake not done?)")
        return der
    return value
