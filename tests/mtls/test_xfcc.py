"""Envoy's x-forwarded-client-cert header: parser, builder and trusted-proxy rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.identity import SpiffeId
from meshsec.mtls import InvalidXfcc, PeerNotAuthorized, allow_id
from meshsec.mtls.xfcc import (
    MAX_XFCC_BYTES,
    MAX_XFCC_ELEMENTS,
    XfccElement,
    build_xfcc,
    parse_xfcc,
    peer_from_xfcc,
)
from tests.mtls.peers import auth_events

PROXY = SpiffeId.parse("spiffe://example.org/ns/mesh/sa/ingress")
CLIENT = "spiffe://example.org/ns/prod/sa/web"

# The example from Envoy's documentation (abbreviated hash), two hops.
ENVOY = (
    "By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a"
    '02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";'
    "URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02"
    "dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com"
)


def test_envoy_documentation_example():
    first, second = parse_xfcc(ENVOY)
    assert first.by == "http://frontend.lyft.com"
    assert first.subject == "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client"
    assert first.uri == "http://testclient.lyft.com"
    assert second.by == "http://backend.lyft.com"
    assert second.uri == "http://frontend.lyft.com"
    assert second.subject is None


def test_keys_are_case_insensitive_and_dns_repeats():
    (element,) = parse_xfcc("by=spiffe://a/b; uri=spiffe://a/c ;DNS=x.example;dns=y.example")
    assert element == XfccElement(
        by="spiffe://a/b", uri="spiffe://a/c", dns=("x.example", "y.example")
    )


def test_quoted_values_hold_separators_and_escaped_quotes():
    header = r'Subject="CN=a,b;c \"quoted\" back\\slash";URI=spiffe://a/b'
    (element,) = parse_xfcc(header)
    assert element.subject == 'CN=a,b;c "quoted" back\\slash'


def test_rfc4514_backslash_escapes_are_kept_as_forwarded():
    (element,) = parse_xfcc(r'Subject="CN=a\,b"')
    assert element.subject == r"CN=a\,b"


@pytest.mark.parametrize(
    "header",
    [
        "",
        " ",
        ",",
        "URI=spiffe://a/b,",
        ",URI=spiffe://a/b",
        "URI=spiffe://a/b;;By=x",
        "URI",
        "=x",
        "Foo=bar",
        'Subject="unterminated',
        'Subject="a"b',
        "By=a b",
        "By=a\x00b",
        "By=a\r\nX-Injected: 1",
        "URI=spiffe://a/b\u00e9",
        'Subject="tab\tinside"',
        "By=x=y",
    ],
)
def test_malformed_headers_raise_invalid_xfcc(header):
    with pytest.raises(InvalidXfcc) as info:
        parse_xfcc(header)
    assert info.value.code == "tls.invalid_xfcc"


def test_error_messages_never_echo_the_header():
    with pytest.raises(InvalidXfcc) as info:
        parse_xfcc("By=SECRET-LOOKING-VALUE;Nope=1")
    assert "SECRET-LOOKING-VALUE" not in str(info.value)


def test_size_and_element_limits():
    with pytest.raises(InvalidXfcc):
        parse_xfcc("By=" + "a" * MAX_XFCC_BYTES)
    with pytest.raises(InvalidXfcc):
        parse_xfcc(",".join(["By=a"] * (MAX_XFCC_ELEMENTS + 1)))
    assert len(parse_xfcc(",".join(["By=a"] * MAX_XFCC_ELEMENTS))) == MAX_XFCC_ELEMENTS


def test_non_text_header_is_refused():
    with pytest.raises(InvalidXfcc):
        parse_xfcc(b"By=a")  # type: ignore[arg-type]


def test_build_refuses_empty_input_and_unprintable_values():
    with pytest.raises(InvalidXfcc):
        build_xfcc([])
    with pytest.raises(InvalidXfcc):
        build_xfcc([XfccElement()])
    with pytest.raises(InvalidXfcc):
        build_xfcc([XfccElement(by="a\r\nb")])


def test_build_matches_envoy_layout():
    element = XfccElement(
        by="spiffe://a/p", hash="ab12", subject="CN=x", uri="spiffe://a/c", dns=("d",)
    )
    assert (
        build_xfcc([element]) == 'By=spiffe://a/p;Hash=ab12;Subject="CN=x";URI=spiffe://a/c;DNS=d'
    )


# ---- hypothesis ---------------------------------------------------------------

_printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_elements = st.builds(
    XfccElement,
    by=st.none() | _printable,
    hash=st.none() | _printable,
    cert=st.none() | _printable,
    chain=st.none() | _printable,
    subject=st.none() | _printable,
    uri=st.none() | _printable,
    dns=st.lists(_printable, max_size=3),
).filter(
    lambda e: any(v is not None for v in (e.by, e.hash, e.cert, e.chain, e.subject, e.uri)) or e.dns
)


@given(st.lists(_elements, min_size=1, max_size=MAX_XFCC_ELEMENTS))
def test_build_then_parse_round_trips(elements):
    assert parse_xfcc(build_xfcc(elements)) == tuple(elements)


@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_invalid_xfcc(text):
    try:
        result = parse_xfcc(text)
    except InvalidXfcc:
        return
    assert result
    assert all(isinstance(e, XfccElement) for e in result)


@given(st.text(alphabet='BbyURIDNSHashuri=;,"\\ spiffe:/abc', max_size=120))
def test_structured_garbage_parses_or_raises_invalid_xfcc(text):
    try:
        result = parse_xfcc(text)
    except InvalidXfcc:
        return
    # Anything accepted must survive a rebuild unchanged (no silent truncation).
    assert parse_xfcc(build_xfcc(result)) == result


# ---- peer_from_xfcc -----------------------------------------------------------


def _header(uri: str | None = CLIENT) -> str:
    return build_xfcc([XfccElement(by="spiffe://other/hop", uri="spiffe://example.org/first"),
                       XfccElement(by=str(PROXY), uri=uri)])  # fmt: skip


def test_forwarded_identity_of_a_trusted_proxy_is_the_last_element():
    peer = peer_from_xfcc(_header(), trusted_proxy=allow_id(PROXY), proxy_peer=PROXY)
    assert peer == SpiffeId.parse(CLIENT)


def test_untrusted_proxy_cannot_forward_an_identity(events):
    attacker = SpiffeId.parse("spiffe://example.org/ns/prod/sa/attacker")
    with pytest.raises(PeerNotAuthorized):
        peer_from_xfcc(_header(), trusted_proxy=allow_id(PROXY), proxy_peer=attacker)
    (event,) = auth_events(events)
    assert event.reason == "tls.peer_not_authorized"
    assert event.actor == str(attacker)
    assert event.correlation_id


@pytest.mark.parametrize("uri", [None, "https://example.org/web", "spiffe://Example.org/x"])
def test_forwarded_element_without_valid_spiffe_uri_is_refused(uri, events):
    with pytest.raises(InvalidXfcc):
        peer_from_xfcc(_header(uri), trusted_proxy=allow_id(PROXY), proxy_peer=PROXY)
    assert [e.reason for e in auth_events(events)] == ["tls.invalid_xfcc"]


def test_malformed_header_from_trusted_proxy_is_refused():
    with pytest.raises(InvalidXfcc):
        peer_from_xfcc("URI=" + CLIENT + ";URI=x", trusted_proxy=allow_id(PROXY), proxy_peer=PROXY)


def test_raising_matcher_fails_closed():
    def broken(_: SpiffeId) -> bool:
        raise RuntimeError("boom")

    with pytest.raises(PeerNotAuthorized):
        peer_from_xfcc(_header(), trusted_proxy=broken, proxy_peer=PROXY)


def test_envoy_forms_parse_empty_uri_and_one_uri_per_san():
    """Envoy writes ``URI=`` for a certificate without a URI SAN and repeats
    ``URI``/``By`` once per URI SAN (envoyproxy/envoy#20724)."""
    (no_san,) = parse_xfcc('Hash=abc;Subject="";URI=')
    assert no_san.uri == ""
    assert no_san.subject == ""
    (several,) = parse_xfcc(
        "By=spiffe://a/p;By=spiffe://a/q;URI=spiffe://a/x;URI=spiffe://a/y;DNS=d"
    )
    assert several.uris == ("spiffe://a/x", "spiffe://a/y")
    assert several.uri == "spiffe://a/x"
    assert several.bys == ("spiffe://a/p", "spiffe://a/q")
    assert parse_xfcc(build_xfcc([several])) == (several,)


def test_peer_from_xfcc_refuses_an_element_without_a_uri_or_with_several():
    for header in ("URI=", 'Subject="";URI=', f"URI={CLIENT};URI=spiffe://example.org/x"):
        with pytest.raises(InvalidXfcc):
            peer_from_xfcc(header, trusted_proxy=allow_id(PROXY), proxy_peer=PROXY)


def test_peer_from_xfcc_accepts_a_proxy_with_several_uri_sans_in_by():
    header = f"By=spiffe://example.org/other;By={PROXY};URI={CLIENT}"
    assert str(peer_from_xfcc(header, trusted_proxy=allow_id(PROXY), proxy_peer=PROXY)) == CLIENT
