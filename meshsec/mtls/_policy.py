"""What one side of a meshsec connection checks about the other, after every handshake."""

from __future__ import annotations

import contextlib
import ssl
from typing import Literal

import attrs

from meshsec.clock import Clock
from meshsec.errors import MeshsecError
from meshsec.identity import SpiffeId
from meshsec.mtls import _events
from meshsec.mtls._errors import (
    HandshakeFailed,
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
    PeerCertificateUntrusted,
    PeerNotAuthorized,
    _ConnectionError,
)
from meshsec.mtls._matchers import Matcher, matches
from meshsec.mtls._peer import LeafCache

Role = Literal["server", "client"]
Connection = ssl.SSLSocket | ssl.SSLObject

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) that say "not issued by a trusted root".
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21, 27, 28})
_VERIFY_ERRORS: dict[int, type[PeerCertificateInvalid]] = {
    9: PeerCertificateNotYetValid,
    10: PeerCertificateExpired,
    **dict.fromkeys(_UNTRUSTED_CODES, PeerCertificateUntrusted),
}


@attrs.frozen(kw_only=True)
class PeerPolicy:
    """The checks bound to one meshsec context."""

    role: Role
    trust_domain: str
    matcher: Matcher
    clock: Clock
    leaves: LeafCache = attrs.field(
        default=attrs.Factory(lambda self: LeafCache(self.trust_domain), takes_self=True),
        eq=False,
        repr=False,
    )

    def guard(self, ctx: ssl.SSLContext) -> None:
        """Refuse to handshake on a context whose verification was turned off.

        MeshsecContext already refuses such changes; this is belt and braces.
        """
        if ctx.verify_mode != ssl.CERT_REQUIRED:
            raise HandshakeFailed(
                "the meshsec context's verify_mode was changed from CERT_REQUIRED; refusing"
            )

    def authorize(self, conn: Connection) -> SpiffeId:
        """Check the peer's leaf and SPIFFE ID; raise a TLS error or return the ID."""
        facts = self.leaves.facts(conn.getpeercert(binary_form=True))
        facts.check_validity(self.clock())
        peer = facts.spiffe_id
        if not matches(self.matcher, peer):
            error = PeerNotAuthorized(f"peer {peer} is not allowed by {self.matcher!r}")
            error.peer = peer
            raise error
        return peer


def translate(exc: ssl.SSLError) -> _ConnectionError:
    """Map an OpenSSL handshake failure to a typed meshsec error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        cls = _VERIFY_ERRORS.get(exc.verify_code, PeerCertificateInvalid)
        return cls(f"the peer's certificate failed verification: {exc.verify_message}")
    reason = exc.reason or type(exc).__name__
    return HandshakeFailed(f"the TLS handshake failed ({reason})")


def policy_of(conn: Connection) -> PeerPolicy:
    policy = getattr(conn.context, "_meshsec_policy", None)
    if not isinstance(policy, PeerPolicy):
        raise HandshakeFailed("the connection's context was not built by meshsec.mtls")
    return policy


def audited(conn: Connection, error: MeshsecError, *, role: str) -> None:
    """One authentication audit event for one refused connection."""
    attributes = {"role": role}
    with contextlib.suppress(ValueError, OSError):  # the connection may be gone
        attributes["resumed"] = "true" if conn.session_reused else "false"
    if isinstance(error, _ConnectionError):
        _events.refused("handshake", error, peer=error.peer, attributes=attributes)
    else:
        _events.refused("handshake", error, attributes=attributes)
