"""Errors of the mTLS area.

::

    TLSError (meshsec.errors)
    +-- HandshakeFailed             tls.handshake_failed          (also ssl.SSLError)
    +-- PeerCertificateInvalid      tls.peer_certificate_invalid  (also ssl.SSLError)
    |   +-- PeerCertificateExpired        tls.peer_certificate_expired
    |   +-- PeerCertificateNotYetValid    tls.peer_certificate_not_yet_valid
    |   +-- PeerCertificateUntrusted      tls.peer_certificate_untrusted
    +-- PeerNotAuthorized           tls.peer_not_authorized       (also ssl.SSLError)
    +-- InvalidXfcc                 tls.invalid_xfcc

The connection-level errors are also :class:`ssl.SSLError` (and so
:class:`OSError`) on purpose: servers built on ``socketserver``, asyncio and
urllib3 treat an ``OSError`` raised during a handshake as one failed
connection and carry on, whereas any other exception type would escape their
accept loops.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

# Names follow the project habit (TokenExpired, InvalidToken): no "Error" suffix.
# ruff: noqa: N818
from meshsec.errors import TLSError

if TYPE_CHECKING:
    from meshsec.identity import SpiffeId


class _ConnectionError(TLSError, ssl.SSLError):
    """A TLS connection was refused; the socket is closed."""

    code = "tls.connection_refused"

    #: The peer's SPIFFE ID when it was read before the refusal (public by design).
    peer: SpiffeId | None = None

    def __str__(self) -> str:
        # ssl.SSLError.__str__ would print the args tuple.
        return self.message


class HandshakeFailed(_ConnectionError):
    """The TLS handshake failed (protocol version, cipher, missing certificate...)."""

    code = "tls.handshake_failed"


class PeerCertificateInvalid(_ConnectionError):
    """The peer's certificate breaks the X509-SVID rules."""

    code = "tls.peer_certificate_invalid"


class PeerCertificateExpired(PeerCertificateInvalid):
    """The peer's certificate has expired."""

    code = "tls.peer_certificate_expired"


class PeerCertificateNotYetValid(PeerCertificateInvalid):
    """The peer's certificate is not valid yet."""

    code = "tls.peer_certificate_not_yet_valid"


class PeerCertificateUntrusted(PeerCertificateInvalid):
    """The peer's certificate does not chain to the trust bundle."""

    code = "tls.peer_certificate_untrusted"


class PeerNotAuthorized(_ConnectionError):
    """The peer's SPIFFE ID is valid but not one this side accepts."""

    code = "tls.peer_not_authorized"


class InvalidXfcc(TLSError):
    """An x-forwarded-client-cert header is malformed or too large."""

    code = "tls.invalid_xfcc"


class _RotationFailed(TLSError):
    """A rotated identity or bundle could not be loaded; the last good one stays.

    Never raised: only its code reaches the ``certificate`` audit event.
    """

    code = "tls.rotation_failed"
