"""The X509-SVID checks on a peer's leaf that OpenSSL does not make.

OpenSSL verifies the chain to the bundle; it knows nothing of SPIFFE. The
X509-SVID specification (section 4, "Constraints and Usage") adds: exactly
one URI SAN holding a SPIFFE ID, and a leaf that is not a CA and does not
assert ``keyCertSign`` or ``cRLSign``. Validity is checked again against the
injected clock because a resumed session skips verification entirely.
"""

from __future__ import annotations

import ssl
import threading
from collections import OrderedDict
from datetime import datetime

import attrs
from cryptography import x509

from meshsec.identity import InvalidSpiffeId, SpiffeId
from meshsec.mtls._errors import (
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
)


def load_peer_leaf(der: bytes | None) -> x509.Certificate:
    """Parse the peer's DER leaf; raise PeerCertificateInvalid when absent or broken."""
    if not der:
        raise PeerCertificateInvalid("the peer presented no certificate")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise PeerCertificateInvalid("the peer's certificate cannot be parsed") from None


def spiffe_id_of(cert: x509.Certificate) -> SpiffeId:
    """The SPIFFE ID in the certificate's single URI SAN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if len(uris) != 1:
        raise PeerCertificateInvalid(
            f"the peer's certificate must carry exactly one URI SAN, it has {len(uris)}"
        )
    try:
        sid = SpiffeId.parse(uris[0])
    except InvalidSpiffeId:
        raise PeerCertificateInvalid("the peer's URI SAN is not a valid SPIFFE ID") from None
    if sid.is_trust_domain_id:
        raise PeerCertificateInvalid("the peer's SPIFFE ID names a trust domain, not a workload")
    return sid


def _check_not_ca(cert: x509.Certificate) -> None:
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise PeerCertificateInvalid("the peer's leaf certificate is a CA (CA:TRUE)")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if usage.key_cert_sign or usage.crl_sign:
        raise PeerCertificateInvalid("the peer's leaf certificate may sign certificates")


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise PeerCertificateNotYetValid("the peer's certificate is not valid yet")
    if now > cert.not_valid_after_utc:
        raise PeerCertificateExpired("the peer's certificate has expired")


def check_svid(cert: x509.Certificate, *, trust_domain: str | None, now: datetime) -> SpiffeId:
    """Apply every X509-SVID leaf rule; return the peer's SPIFFE ID.

    Raises PeerCertificateInvalid (or its Expired / NotYetValid subclasses).
    """
    _check_validity(cert, now)
    _check_not_ca(cert)
    sid = spiffe_id_of(cert)
    if trust_domain is not None and sid.trust_domain != trust_domain:
        raise PeerCertificateInvalid(
            f"the peer belongs to trust domain {sid.trust_domain!r}, not {trust_domain!r}"
        )
    return sid


@attrs.frozen
class LeafFacts:
    """What the SVID rules need from one leaf, extracted once per distinct certificate."""

    spiffe_id: SpiffeId
    not_before: float
    not_after: float

    def check_validity(self, now: float) -> None:
        if now < self.not_before:
            raise PeerCertificateNotYetValid("the peer's certificate is not valid yet")
        if now > self.not_after:
            raise PeerCertificateExpired("the peer's certificate has expired")


class LeafCache:
    """Structural SVID verdicts keyed by the leaf's DER bytes (bounded, thread-safe).

    Parsing extensions costs more than the rest of the peer check; a service
    sees the same few peer certificates over and over. Only the structure is
    cached (single URI SAN, SPIFFE ID, trust domain, not a CA); validity
    against the clock and the matcher run on every connection.
    """

    def __init__(self, trust_domain: str, size: int = 1024) -> None:
        self._trust_domain = trust_domain
        self._size = size
        self._lock = threading.Lock()
        self._facts: OrderedDict[bytes, LeafFacts] = OrderedDict()

    def facts(self, der: bytes | None) -> LeafFacts:
        if der:
            with self._lock:
                found = self._facts.get(der)
            if found is not None:
                return found
        cert = load_peer_leaf(der)
        _check_not_ca(cert)
        sid = spiffe_id_of(cert)
        if sid.trust_domain != self._trust_domain:
            raise PeerCertificateInvalid(
                f"the peer belongs to trust domain {sid.trust_domain!r}, not {self._trust_domain!r}"
            )
        facts = LeafFacts(
            sid, cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
        )
        assert der is not None  # load_peer_leaf refused an empty one
        with self._lock:
            self._facts[der] = facts
            while len(self._facts) > self._size:
                self._facts.popitem(last=False)
        return facts


def certificate_of(peer: object) -> x509.Certificate:
    """The leaf of an SSLSocket/SSLObject, a DER blob, or a certificate itself."""
    if isinstance(peer, x509.Certificate):
        return peer
    if isinstance(peer, bytes | bytearray | memoryview):
        return load_peer_leaf(bytes(peer))
    if isinstance(peer, ssl.SSLSocket | ssl.SSLObject):
        return load_peer_leaf(peer.getpeercert(binary_form=True))
    raise TypeError("expected an SSLSocket, SSLObject, DER bytes or x509.Certificate")
