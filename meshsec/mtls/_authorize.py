"""peer_id and authorize_peer: the SPIFFE ID of a connected peer, and a check on it."""

from __future__ import annotations

from meshsec.clock import Clock, system_clock, to_datetime
from meshsec.errors import MeshsecError
from meshsec.identity import SpiffeId
from meshsec.mtls import _events
from meshsec.mtls._errors import PeerNotAuthorized
from meshsec.mtls._matchers import Matcher, matches
from meshsec.mtls._peer import certificate_of, check_svid, spiffe_id_of
from meshsec.mtls._socket import MeshsecObject, MeshsecSocket


def peer_id(peer: object) -> SpiffeId:
    """The SPIFFE ID of a connection's peer (or of a certificate / DER blob).

    For a connection made with a meshsec context this is the ID that was
    checked after the handshake. Raises PeerCertificateInvalid when the peer
    sent no certificate or its certificate has no single valid SPIFFE URI SAN,
    and TypeError for an object that is none of the accepted kinds.
    """
    if isinstance(peer, MeshsecSocket | MeshsecObject) and peer.meshsec_peer is not None:
        return peer.meshsec_peer
    return spiffe_id_of(certificate_of(peer))


def authorize_peer(
    peer: object,
    matcher: Matcher,
    *,
    trust_domain: str | None = None,
    clock: Clock = system_clock,
) -> SpiffeId:
    """Check a connection's peer against ``matcher`` and the X509-SVID rules.

    Use it on connections made with contexts that meshsec did not build (or
    for a narrower check per request). Returns the peer's SPIFFE ID; raises
    PeerNotAuthorized when the matcher refuses and PeerCertificateInvalid (or a
    subclass) when the leaf breaks the X509-SVID rules, is outside
    ``trust_domain`` or is outside its validity period. Each refusal emits one
    authentication audit event.
    """
    sid: SpiffeId | None = None
    try:
        sid = check_svid(certificate_of(peer), trust_domain=trust_domain, now=to_datetime(clock))
        if not matches(matcher, sid):
            raise PeerNotAuthorized(f"peer {sid} is not allowed by {matcher!r}")
    except MeshsecError as exc:
        _events.refused("authorize", exc, peer=sid)
        raise
    return sid
