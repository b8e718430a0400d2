"""SpiffeId parsing follows the SPIFFE ID specification; hostile text fails typed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import IdentityError
from meshsec.identity import InvalidSpiffeId, SpiffeId

TD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-_"
SEG_CHARS = TD_CHARS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

trust_domains = st.text(alphabet=TD_CHARS, min_size=1, max_size=40)
segments = st.text(alphabet=SEG_CHARS, min_size=1, max_size=20).filter(
    lambda s: s not in {".", ".."}
)


def test_parse_exposes_trust_domain_and_path() -> None:
    sid = SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders")
    assert sid.trust_domain == "example.org"
    assert sid.path == "/ns/prod/sa/orders"
    assert sid.segments == ("ns", "prod", "sa", "orders")
    assert str(sid) == "spiffe://example.org/ns/prod/sa/orders"
    assert repr(sid) == "SpiffeId('spiffe://example.org/ns/prod/sa/orders')"


def test_trust_domain_id_has_empty_path() -> None:
    sid = SpiffeId.parse("spiffe://example.org")
    assert sid.path == ""
    assert sid.is_trust_domain_id
    assert sid == SpiffeId.for_trust_domain("example.org")


def test_equality_and_hash_follow_the_string() -> None:
    a = SpiffeId.parse("spiffe://example.org/a")
    b = SpiffeId.from_parts("example.org", "a")
    assert a == b
    assert hash(a) == hash(b)
    assert {a, b} == {a}
    assert a != SpiffeId.parse("spiffe://example.org/A")  # paths are case-sensitive
    assert a.is_member_of("example.org")
    assert not a.is_member_of("example.com")


def test_invalid_spiffe_id_is_an_identity_error_with_stable_code() -> None:
    assert issubclass(InvalidSpiffeId, IdentityError)
    assert InvalidSpiffeId.code == "identity.invalid_spiffe_id"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "example.org/a",
        "http://example.org/a",
        "SPIFFE://example.org/a",
        "spiffe:/example.org/a",
        "spiffe://",
        "spiffe:///a",
        "spiffe://Example.org/a",  # uppercase trust domain
        "spiffe://example.org:8443/a",  # port
        "spiffe://user@example.org/a",  # userinfo
        "spiffe://user:pw@example.org/a",
        "spiffe://example.org/a?x=1",  # query
        "spiffe://example.org/a#frag",  # fragment
        "spiffe://example.org?x",
        "spiffe://example.org#x",
        "spiffe://example.org/",  # trailing slash
        "spiffe://example.org/a/",
        "spiffe://example.org//a",  # empty segment
        "spiffe://example.org/./a",
        "spiffe://example.org/a/..",
        "spiffe://example.org/a%2Fb",  # percent-encoding
        "spiffe://example.org/a b",
        "spiffe://exa mple.org/a",
        "spiffe://example.org/caf\u00e9",
        "spiffe://\u0435xample.org/a",  # Cyrillic e: homograph
        "spiffe://example.org/a\x00b",
        "spiffe://example.org/a\\b",
        " spiffe://example.org/a",
        "spiffe://example.org/a\n",
        "spiffe://[::1]/a",
        "spiffe://" + "a" * 256,  # trust domain over 255 bytes
        "spiffe://example.org/" + "a" * 2040,  # over 2048 bytes
    ],
)
def test_invalid_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.parse(text)


def test_error_message_does_not_echo_hostile_input() -> None:
    hostile = "spiffe://example.org/<script>alert(1)</script>"
    with pytest.raises(InvalidSpiffeId) as info:
        SpiffeId.parse(hostile)
    assert "<script>" not in str(info.value)


@pytest.mark.parametrize("value", [None, b"spiffe://example.org/a", 42, ["spiffe://x/a"]])
def test_non_string_input_is_refused_typed(value: object) -> None:
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.parse(value)


def test_maximum_lengths_are_accepted() -> None:
    td = "a" * 255
    assert SpiffeId.parse(f"spiffe://{td}").trust_domain == td
    path = "/" + "b" * (2048 - len("spiffe://x/"))
    assert len(str(SpiffeId.parse(f"spiffe://x{path}"))) == 2048


def test_from_parts_refuses_slashes_and_dot_segments() -> None:
    for bad in ["a/b", "", ".", "..", "a?b"]:
        with pytest.raises(InvalidSpiffeId):
            SpiffeId.from_parts("example.org", bad)
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.from_parts("Example.org", "a")


def test_direct_construction_validates_too() -> None:
    with pytest.raises(InvalidSpiffeId):
        SpiffeId("example.org", "no-leading-slash")
    with pytest.raises(InvalidSpiffeId):
        SpiffeId("EXAMPLE", "/a")


def test_spiffe_id_is_immutable() -> None:
    sid = SpiffeId.parse("spiffe://example.org/a")
    with pytest.raises(AttributeError):
        sid.path = "/b"  # type: ignore[misc]


@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_invalid_spiffe_id(text: str) -> None:
    try:
        sid = SpiffeId.parse(text)
    except InvalidSpiffeId:
        return
    assert str(sid) == text


@given(st.text(alphabet=st.sampled_from("spifE:/.-_a%?#@[]1 "), max_size=60))
def test_near_miss_text_raises_only_invalid_spiffe_id(text: str) -> None:
    try:
        sid = SpiffeId.parse("spiffe://" + text)
    except InvalidSpiffeId:
        return
    assert str(sid) == "spiffe://" + text


@given(trust_domains, st.lists(segments, max_size=6))
def test_build_then_parse_round_trips(td: str, segs: list[str]) -> None:
    built = SpiffeId.from_parts(td, *segs)
    parsed = SpiffeId.parse(str(built))
    assert parsed == built
    assert parsed.trust_domain == td
    assert parsed.segments == tuple(segs)


def _reference_parse(text: str) -> SpiffeId | None:
    """The slow, rule-by-rule path (the validating constructor), for comparison."""
    if not text.startswith("spiffe://") or len(text) > 2048:
        return None
    trust_domain, slash, path = text[len("spiffe://") :].partition("/")
    try:
        return SpiffeId(trust_domain, slash + path)
    except InvalidSpiffeId:
        return None


@given(st.text(alphabet=st.sampled_from("aZ09.-_/%:@?#\n\u00e9"), max_size=40))
def test_fast_path_agrees_with_the_rules(tail: str) -> None:
    text = "spiffe://" + tail
    try:
        parsed: SpiffeId | None = SpiffeId.parse(text)
    except InvalidSpiffeId:
        parsed = None
    assert parsed == _reference_parse(text)


@pytest.mark.parametrize(
    "text", ["spiffe://td/.", "spiffe://td/..", "spiffe://td/a/./b", "spiffe://td/a/../b"]
)
def test_dot_segments_refused_on_the_fast_path(text: str) -> None:
    with pytest.raises(InvalidSpiffeId):
        SpiffeId.parse(text)


def test_dotted_names_that_are_not_dot_segments_are_fine() -> None:
    assert SpiffeId.parse("spiffe://td/.../a..b/.c").segments == ("...", "a..b", ".c")
