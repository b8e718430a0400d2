"""Mutual TLS with SPIFFE identities: contexts, peer authorization, XFCC.

``server_context`` and ``client_context`` build ``ssl.SSLContext`` objects
that present a workload's identity, trust only its bundle, follow identity
rotation for new connections, and check the peer's SPIFFE ID right after
every handshake (resumed ones included) before any application data moves.
``meshsec.mtls.xfcc`` reads identities forwarded by a trusted proxy.

Errors (all :class:`~meshsec.errors.TLSError`)::

    HandshakeFailed             tls.handshake_failed
    PeerCertificateInvalid      tls.peer_certificate_invalid
    +-- PeerCertificateExpired        tls.peer_certificate_expired
    +-- PeerCertificateNotYetValid    tls.peer_certificate_not_yet_valid
    +-- PeerCertificateUntrusted      tls.peer_certificate_untrusted
    PeerNotAuthorized           tls.peer_not_authorized
    InvalidXfcc                 tls.invalid_xfcc
"""

from meshsec.mtls._authorize import authorize_peer, peer_id
from meshsec.mtls._context import ECDH_CURVE, TLS12_CIPHERS, client_context, server_context
from meshsec.mtls._errors import (
    HandshakeFailed,
    InvalidXfcc,
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
    PeerCertificateUntrusted,
    PeerNotAuthorized,
)
from meshsec.mtls._matchers import (
    Matcher,
    allow_any_of,
    allow_id,
    allow_path_prefix,
    allow_trust_domain,
)

__all__ = [
    "ECDH_CURVE",
    "TLS12_CIPHERS",
    "HandshakeFailed",
    "InvalidXfcc",
    "Matcher",
    "PeerCertificateExpired",
    "PeerCertificateInvalid",
    "PeerCertificateNotYetValid",
    "PeerCertificateUntrusted",
    "PeerNotAuthorized",
    "allow_any_of",
    "allow_id",
    "allow_path_prefix",
    "allow_trust_domain",
    "authorize_peer",
    "client_context",
    "peer_id",
    "server_context",
]
