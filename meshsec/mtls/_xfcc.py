"""Envoy's ``x-forwarded-client-cert`` (XFCC) header: parse, build, trust (see ``xfcc``).

A proxy that terminates mTLS (Envoy, an Istio or Linkerd sidecar, an
ingress) tells the service behind it who the client was in this header.
Each proxy hop appends one element; elements are separated by ``,``, the
``key=value`` pairs of an element by ``;``. Values may be double-quoted, and
inside quotes ``\\"`` stands for a quote and ``\\\\`` for a backslash (any
other backslash is kept as written, because Envoy forwards RFC 4514 subject
escapes such as ``\\,`` untouched). Keys are case-insensitive.

Reference: Envoy's "x-forwarded-client-cert" header documentation
(https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers).

The header is only as trustworthy as the peer that sent it:
:func:`peer_from_xfcc` returns the forwarded identity only when the immediate
mTLS peer is a proxy the caller trusts.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable

import attrs

from meshsec.identity import InvalidSpiffeId, SpiffeId
from meshsec.mtls import _events
from meshsec.mtls._authorize import peer_id
from meshsec.mtls._errors import InvalidXfcc, PeerCertificateInvalid, PeerNotAuthorized
from meshsec.mtls._matchers import matches

#: Longest header accepted: a forwarded Cert plus Chain over a few hops fits.
MAX_XFCC_BYTES = 16 * 1024
#: Most elements accepted (one per proxy hop).
MAX_XFCC_ELEMENTS = 16

# key (lowercase) -> attribute name; DNS may repeat, the others may not.
_KEYS = {
    "by": "by",
    "hash": "hash",
    "cert": "cert",
    "chain": "chain",
    "subject": "subject",
    "uri": "uri",
    "dns": "dns",
}
_CANONICAL = (
    ("By", "by"),
    ("Hash", "hash"),
    ("Cert", "cert"),
    ("Chain", "chain"),
    ("Subject", "subject"),
    ("URI", "uri"),
)
_OWS = " \t"
_UNQUOTED_STOP = frozenset(',;"\\= \t')


def _printable(value: str) -> bool:
    return all(" " <= ch <= "~" for ch in value)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class XfccElement:
    """One proxy hop's view of its client certificate. Absent keys are ``None``.

    ``cert`` and ``chain`` are URL-encoded PEM exactly as the proxy sent them;
    ``dns`` holds every DNS SAN in order. Envoy repeats ``URI`` (and ``By``)
    once per URI SAN of a certificate that has several: ``uris``/``bys`` hold
    them all, ``uri``/``by`` the first. An empty value (Envoy writes ``URI=``
    for a certificate without a URI SAN) is the empty string.
    """

    by: str | None = None
    hash: str | None = None
    cert: str | None = None
    chain: str | None = None
    subject: str | None = None
    uri: str | None = None
    dns: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    uris: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    bys: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def __attrs_post_init__(self) -> None:
        for single, many in (("uri", "uris"), ("by", "bys")):
            one, all_ = getattr(self, single), getattr(self, many)
            if all_ and one is None:
                object.__setattr__(self, single, all_[0])
            elif one is not None and not all_:
                object.__setattr__(self, many, (one,))
            elif one is not None and one != all_[0]:
                raise InvalidXfcc(f"{single} must be the first of {many}")


def parse_xfcc(
    header: str, *, max_bytes: int = MAX_XFCC_BYTES, max_elements: int = MAX_XFCC_ELEMENTS
) -> tuple[XfccElement, ...]:
    """Parse an XFCC header value into its elements, first hop first.

    Raises :class:`InvalidXfcc` for anything malformed, oversized, with an
    unknown or repeated key, or with characters outside printable ASCII; no
    partial result is ever returned.
    """
    if not isinstance(header, str):
        raise InvalidXfcc("the x-forwarded-client-cert header must be text")
    if len(header) > max_bytes:
        raise InvalidXfcc(f"the x-forwarded-client-cert header is longer than {max_bytes} bytes")
    if not _printable(header.replace("\t", " ")):
        raise InvalidXfcc("the x-forwarded-client-cert header holds non-printable characters")
    parser = _Parser(header)
    elements = parser.elements(max_elements)
    return tuple(elements)


class _Parser:
    """A single left-to-right pass; every error names the offset, never the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> InvalidXfcc:
        return InvalidXfcc(f"malformed x-forwarded-client-cert header: {what} at offset {self.pos}")

    def skip_ows(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _OWS:
            self.pos += 1

    def elements(self, max_elements: int) -> list[XfccElement]:
        found: list[XfccElement] = []
        while True:
            if len(found) >= max_elements:
                raise InvalidXfcc(
                    f"the x-forwarded-client-cert header has over {max_elements} elements"
                )
            found.append(self.element())
            if self.pos == len(self.text):
                return found
            self.pos += 1  # the ',' that element() stopped at

    def element(self) -> XfccElement:
        fields: dict[str, str] = {}
        repeated: dict[str, list[str]] = {"dns": [], "uri": [], "by": []}
        while True:
            self.skip_ows()
            key = self.key()
            value = self.value()
            if key in repeated:
                repeated[key].append(value)
            elif key in fields:
                raise self.fail(f"repeated key {key!r}")
            else:
                fields[key] = value
            self.skip_ows()
            if self.pos == len(self.text) or self.text[self.pos] == ",":
                return XfccElement(
                    dns=tuple(repeated["dns"]),
                    uris=tuple(repeated["uri"]),
                    bys=tuple(repeated["by"]),
                    **fields,
                )
            if self.text[self.pos] != ";":
                raise self.fail("expected ';' or ','")
            self.pos += 1

    def key(self) -> str:
        start = self.pos
        while (
            self.pos < len(self.text)
            and self.text[self.pos].isascii()
            and (self.text[self.pos].isalpha())
        ):
            self.pos += 1
        key = self.text[start : self.pos].lower()
        if key not in _KEYS:
            raise self.fail("missing or unknown key")
        if self.pos == len(self.text) or self.text[self.pos] != "=":
            raise self.fail("expected '='")
        self.pos += 1
        return _KEYS[key]

    def value(self) -> str:
        if self.pos < len(self.text) and self.text[self.pos] == '"':
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _UNQUOTED_STOP:
            self.pos += 1
        # Empty is allowed: Envoy writes "URI=" for a certificate without a URI SAN.
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.pos += 1  # opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in '"\\':
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == "\t":
                raise self.fail("tab inside a quoted value")
            out.append(ch)
            self.pos += 1
        raise self.fail("unterminated quoted value")


def build_xfcc(elements: Iterable[XfccElement]) -> str:
    """Render elements as one XFCC header value (the inverse of :func:`parse_xfcc`).

    Keys come out in Envoy's order with Envoy's capitalisation; values are
    quoted when they need it. Raises :class:`InvalidXfcc` for an empty element
    list, an element with no keys, or a value outside printable ASCII.
    """
    rendered = [_build_element(element) for element in elements]
    if not rendered:
        raise InvalidXfcc("an x-forwarded-client-cert header needs at least one element")
    return ",".join(rendered)


def _build_element(element: XfccElement) -> str:
    pairs = [("By", by) for by in element.bys]
    pairs += [
        (key, getattr(element, attr)) for key, attr in _CANONICAL if attr not in ("by", "uri")
    ]
    pairs += [("URI", uri) for uri in element.uris]
    pairs += [("DNS", name) for name in element.dns]
    parts = [f"{key}={_quote(key, value)}" for key, value in pairs if value is not None]
    if not parts:
        raise InvalidXfcc("an x-forwarded-client-cert element needs at least one key")
    return ";".join(parts)


def _quote(key: str, value: str) -> str:
    if not isinstance(value, str) or not _printable(value):
        raise InvalidXfcc(f"the {key} value must be printable ASCII text")
    # Envoy always quotes Subject; everything else only when it must.
    if key != "Subject" and value and not any(ch in _UNQUOTED_STOP for ch in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def peer_from_xfcc(
    header: str,
    *,
    trusted_proxy: Callable[[SpiffeId], bool],
    proxy_peer: SpiffeId | str | ssl.SSLSocket | ssl.SSLObject,
) -> SpiffeId:
    """The SPIFFE ID of the client a trusted proxy forwarded, from the last element.

    ``proxy_peer`` is the immediate mTLS peer: its SpiffeId (see
    :func:`meshsec.mtls.peer_id`), that ID as text, or the live TLS
    connection itself. The header is believed only when ``trusted_proxy(proxy_peer)`` returns
    ``True``. Raises :class:`PeerNotAuthorized` when the peer is not a trusted
    proxy and :class:`InvalidXfcc` when the header is malformed or its last
    element carries no valid SPIFFE ID in ``URI``. Each failure emits one
    authentication audit event.
    """
    peer: SpiffeId | None = None
    try:
        peer = _immediate_peer(proxy_peer)
        return _peer_from_xfcc(header, trusted_proxy, peer)
    except (InvalidXfcc, PeerNotAuthorized) as exc:
        _events.refused("xfcc", exc, peer=peer)
        raise


def _immediate_peer(proxy_peer: object) -> SpiffeId:
    if isinstance(proxy_peer, SpiffeId):
        return proxy_peer
    if isinstance(proxy_peer, str):
        try:
            return SpiffeId.parse(proxy_peer)
        except InvalidSpiffeId:
            raise PeerNotAuthorized("the immediate peer is not a valid SPIFFE ID") from None
    if isinstance(proxy_peer, ssl.SSLSocket | ssl.SSLObject):
        try:
            return peer_id(proxy_peer)
        except PeerCertificateInvalid:
            raise PeerNotAuthorized("the immediate peer has no valid SPIFFE ID") from None
    raise TypeError("proxy_peer is a SpiffeId, its text, or the peer's SSLSocket/SSLObject")


def _peer_from_xfcc(
    header: str, trusted_proxy: Callable[[SpiffeId], bool], proxy_peer: SpiffeId
) -> SpiffeId:
    if not matches(trusted_proxy, proxy_peer):
        raise PeerNotAuthorized(
            "the immediate peer is not a trusted proxy; its x-forwarded-client-cert "
            "header is ignored"
        )
    last = parse_xfcc(header)[-1]
    # Envoy puts the URI SAN(s) of the appending proxy's own certificate in
    # By: an element whose By names someone else was not appended by the peer
    # we trust (a proxy that forwards its client's header unsanitised).
    if last.bys and str(proxy_peer) not in last.bys:
        raise InvalidXfcc(
            "the last x-forwarded-client-cert element was not appended by the immediate peer"
        )
    if not last.uris or not last.uris[0]:
        raise InvalidXfcc("the last x-forwarded-client-cert element carries no URI")
    if len(last.uris) != 1:
        # An X509-SVID has exactly one URI SAN; several leave the client ambiguous.
        raise InvalidXfcc("the last x-forwarded-client-cert element carries several URIs")
    try:
        return SpiffeId.parse(last.uri)
    except InvalidSpiffeId:
        raise InvalidXfcc(
            "the last x-forwarded-client-cert element's URI is not a valid SPIFFE ID"
        ) from None
