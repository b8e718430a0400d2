"""Envoy's ``x-forwarded-client-cert`` (XFCC) header: parse, build, trust.

A proxy that terminates mTLS (Envoy, an Istio or Linkerd sidecar, an
ingress) tells the service behind it who the client was in this header; each
hop appends one element. :func:`parse_xfcc` and :func:`build_xfcc` are exact
inverses; :func:`peer_from_xfcc` believes the header only when the immediate
mTLS peer is a proxy the caller trusts. Malformed input raises
:class:`~meshsec.mtls.InvalidXfcc`, never a partial result.
"""

from meshsec.mtls._xfcc import (
    MAX_XFCC_BYTES,
    MAX_XFCC_ELEMENTS,
    XfccElement,
    build_xfcc,
    parse_xfcc,
    peer_from_xfcc,
)

#: Short spellings for ``xfcc.parse(header)`` / ``xfcc.build(elements)``.
parse = parse_xfcc
build = build_xfcc

__all__ = [
    "MAX_XFCC_BYTES",
    "MAX_XFCC_ELEMENTS",
    "XfccElement",
    "build",
    "build_xfcc",
    "parse",
    "parse_xfcc",
    "peer_from_xfcc",
]
