"""Red-team attacks on the XFCC parser and on trusting forwarded identities."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.identity import SpiffeId
from meshsec.mtls import InvalidXfcc, PeerNotAuthorized, allow_id
from meshsec.mtls.xfcc import MAX_XFCC_BYTES, XfccElement, build_xfcc, parse_xfcc, peer_from_xfcc

PROXY = SpiffeId.parse("spiffe://example.org/ns/mesh/sa/ingress")
WEB = "spiffe://example.org/ns/prod/sa/web"
TRUSTED = allow_id(PROXY)


def test_forwarded_unsanitised_header_with_foreign_by_is_refused(events):
    # A proxy in FORWARD_ONLY mode passes its client's header through: the last
    # element then names someone else in By and must not be believed.
    forged = build_xfcc([XfccElement(by="spiffe://example.org/ns/x/sa/attacker", uri=WEB)])
    with pytest.raises(InvalidXfcc):
        peer_from_xfcc(forged, trusted_proxy=TRUSTED, proxy_peer=PROXY)
    assert [e.reason for e in events if e.action == "mtls.xfcc"] == ["tls.invalid_xfcc"]


def test_last_element_appended_by_the_nearest_proxy_is_the_client():
    header = build_xfcc(
        [
            XfccElement(
                by="spiffe://example.org/ns/edge/sa/lb", uri="spiffe://example.org/x/first"
            ),
            XfccElement(by=str(PROXY), uri=WEB),
        ]
    )
    assert str(peer_from_xfcc(header, trusted_proxy=TRUSTED, proxy_peer=PROXY)) == WEB


def test_element_without_by_still_accepted_from_trusted_proxy():
    header = f"URI={WEB}"
    assert str(peer_from_xfcc(header, trusted_proxy=TRUSTED, proxy_peer=PROXY)) == WEB


def test_untrusted_proxy_forwarding_is_refused_and_audited_once(events):
    header = build_xfcc([XfccElement(by=str(PROXY), uri=WEB)])
    stranger = SpiffeId.parse("spiffe://example.org/ns/x/sa/stranger")
    with pytest.raises(PeerNotAuthorized):
        peer_from_xfcc(header, trusted_proxy=TRUSTED, proxy_peer=stranger)
    refused = [e for e in events if e.action == "mtls.xfcc"]
    assert [(e.reason, e.actor) for e in refused] == [("tls.peer_not_authorized", str(stranger))]
    assert refused[0].correlation_id


@pytest.mark.parametrize(
    "header",
    [
        f"URI={WEB},",  # empty trailing element
        f",URI={WEB}",
        f"URI={WEB},,URI={WEB}",
        f"URI={WEB};Extra=1",  # unknown key
        f'URI="{WEB}',  # unterminated
        f'URI="{WEB}\\"',  # escaped closing quote
        f'URI="{WEB}"x',
        f"URI={WEB}\u00e9",  # non-ASCII
        f"URI={WEB}\r\nX: 1",
        "",
    ],
)
def test_malformed_headers_raise_and_never_echo_input(header):
    with pytest.raises(InvalidXfcc) as info:
        parse_xfcc(header)
    assert WEB not in str(info.value)


def test_quoted_values_with_escapes_commas_and_semicolons():
    subject = 'CN=a\\, b; O="Q, \\"x\\""'
    (element,) = parse_xfcc(build_xfcc([XfccElement(subject=subject, uri=WEB)]))
    assert element.subject == subject
    assert element.uri == WEB


def test_size_limit_is_exact():
    head = f"URI={WEB};Hash="
    at_limit = head + "a" * (MAX_XFCC_BYTES - len(head))
    assert len(parse_xfcc(at_limit)) == 1
    with pytest.raises(InvalidXfcc):
        parse_xfcc(at_limit + "a")


@pytest.mark.parametrize("value", [b"URI=spiffe://a/b", None, 5, ["URI=x"]])
def test_non_text_headers_are_typed_errors(value):
    with pytest.raises(InvalidXfcc):
        parse_xfcc(value)  # type: ignore[arg-type]


_printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_invalid_xfcc(text):
    try:
        elements = parse_xfcc(text)
    except InvalidXfcc:
        return
    assert elements
    assert all(isinstance(e, XfccElement) for e in elements)


@given(
    st.lists(
        st.builds(
            XfccElement,
            by=st.none() | _printable,
            hash=st.none() | _printable,
            subject=st.none() | _printable,
            uri=st.none() | _printable,
            dns=st.lists(_printable, max_size=3),
        ).filter(lambda e: any([e.by, e.hash, e.subject, e.uri, e.dns]) or e.by == ""),
        min_size=1,
        max_size=4,
    )
)
def test_build_then_parse_round_trips(elements):
    try:
        header = build_xfcc(elements)
    except InvalidXfcc:
        return  # an element with no keys at all
    assert parse_xfcc(header) == tuple(elements)
