"""W3C Trace Context and Baggage rules, as tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.correlation import CorrelationContext, Rejection, extract, inject
from tests.correlation.conftest import SPAN_ID, TRACE_ID

T, S = TRACE_ID, SPAN_ID

GOOD_TRACEPARENTS = [
    (f"00-{T}-{S}-01", 1),
    (f"00-{T}-{S}-00", 0),
    (f" 00-{T}-{S}-01\t", 1),  # optional whitespace around a field value
    (f"01-{T}-{S}-01", 1),  # a future version, exactly four fields
    (f"cc-{T}-{S}-01-what-the-future-adds", 1),  # future versions may append fields
    (f"00-{T}-{S}-09", 1),  # undefined flag bits are zeroed (Trace Context 3.2.2.5)
    (f"00-{T}-{S}-03", 3),  # sampled + random (Level 2)
]

BAD_TRACEPARENTS = [
    f"ff-{T}-{S}-01",  # version ff is invalid
    f"00-{T}-{S}-01-extra",  # version 00 has exactly four fields
    f"00-{T}-{S}-01-",
    f"00-{'0' * 32}-{S}-01",  # all-zero trace id
    f"00-{T}-{'0' * 16}-01",  # all-zero parent id
    f"00-{T.upper()}-{S}-01",  # uppercase hex
    f"00-{T}-{S.upper()}-01",
    f"0A-{T}-{S}-01",
    f"00-{T}-{S}-0A",
    f"00-{T[:-1]}-{S}-01",  # wrong lengths
    f"00-{T}0-{S}-01",
    f"00-{T}-{S[:-1]}-01",
    f"00-{T}-{S}0-01",
    f"00-{T}-{S}-1",
    f"00-{T}-{S}-001",
    f"0-{T}-{S}-01",
    f"000-{T}-{S}-01",
    f"00-{T[:-1]}g-{S}-01",  # not hex
    f"00-{T}-{S[:-1]}x-01",
    f"00_{T}_{S}_01",
    f"01-{T}-{S}-01x",  # a future version still needs a dash after the flags
    f"00-{T}-{S}-01\r\nX-Admin: 1",
    "",
    "-",
    "garbage",
    f"00-{T}-{S}-01" + "\x00",
]


@pytest.mark.parametrize(("value", "flags"), GOOD_TRACEPARENTS)
def test_valid_traceparent_is_continued(value: str, flags: int) -> None:
    ctx = extract({"traceparent": value})
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags) == (T, S, flags)
    assert ctx.remote
    assert ctx.rejected == ()
    assert inject(context=ctx)["traceparent"] == f"00-{T}-{S}-{flags:02x}"


@pytest.mark.parametrize("value", BAD_TRACEPARENTS)
def test_invalid_traceparent_starts_a_new_trace(value: str) -> None:
    ctx = extract({"traceparent": value, "tracestate": "rojo=1"})
    assert ctx.trace_id != T
    assert ctx.span_id != S
    assert not ctx.remote
    # Trace Context 3.3.1: tracestate is not parsed when traceparent failed.
    assert ctx.tracestate == ""
    if value.strip(" \t"):
        assert ctx.rejected == (Rejection.INVALID_TRACEPARENT,)
    out = inject(context=ctx)["traceparent"]
    assert out == f"00-{ctx.trace_id}-{ctx.span_id}-00"


def _with_state(state: str) -> CorrelationContext:
    return extract({"traceparent": f"00-{T}-{S}-01", "tracestate": state})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rojo=00f067aa0ba902b7", "rojo=00f067aa0ba902b7"),
        (" rojo=1 , congo=2 ", "rojo=1,congo=2"),
        ("rojo=1,,congo=2", "rojo=1,congo=2"),  # empty list members are allowed
        ("tenant@vendor=x", "tenant@vendor=x"),
        ("a/b*c_d-e=v al", "a/b*c_d-e=v al"),  # inner space in a value is allowed
        (",".join(f"k{i}=v" for i in range(32)), ",".join(f"k{i}=v" for i in range(32))),
    ],
)
def test_valid_tracestate_is_kept_canonical(value: str, expected: str) -> None:
    ctx = _with_state(value)
    assert ctx.tracestate == expected
    assert ctx.rejected == ()


@pytest.mark.parametrize(
    "value",
    [
        "Rojo=1",  # keys are lowercase
        "1rojo=1",  # a simple key starts with a letter
        "rojo=1,rojo=2",  # duplicate keys
        "rojo",  # no value
        "rojo=",  # empty value
        "rojo=a,b",  # "b" is not a member
        "rojo=a\x01",
        "rojo=a=b",  # "=" is not allowed in values
        "rojo=\x7f",
        "rojo=caf\u00e9",
        "rojo=1\r\nX-Evil: 1",
        "k" * 257 + "=1",
        "rojo=" + "v" * 257,
        "t@" + "s" * 15 + "=1",  # system id at most 14 characters
        ",".join(f"k{i}=v" for i in range(33)),  # more than 32 members
        ",".join(f"k{i:02d}" + "x" * 240 + "=" + "v" * 250 for i in range(32)),  # > 8192
    ],
)
def test_invalid_tracestate_is_dropped_whole(value: str) -> None:
    ctx = _with_state(value)
    assert ctx.tracestate == ""
    assert ctx.rejected == (Rejection.INVALID_TRACESTATE,)
    assert ctx.trace_id == T  # the trace itself continues
    assert "tracestate" not in inject(context=ctx)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1", {"a": "1"}),
        (" a = 1 , b=2 ", {"a": "1", "b": "2"}),
        ("a=1;prop=x;flag", {"a": "1"}),  # properties are not kept
        ("a=%E2%9C%93", {"a": "\u2713"}),  # percent-encoded UTF-8
        ("a=x+y", {"a": "x+y"}),  # "+" is a literal plus in W3C Baggage
        ("a=%2B%20", {"a": "+ "}),
        ("a=", {"a": ""}),
        ("a=b=c", {"a": "b=c"}),
        ("a=1,a=2", {"a": "2"}),
        ("a=1,,b=2", {"a": "1", "b": "2"}),
    ],
)
def test_valid_baggage_is_decoded(header: str, expected: dict[str, str]) -> None:
    ctx = extract({"baggage": header})
    assert dict(ctx.baggage) == expected
    assert ctx.rejected == ()


@pytest.mark.parametrize(
    "header",
    [
        "a b=1",
        "=1",
        "novalue",
        "a=b c",
        'a="q"',
        "a=back\\slash",
        "a=%FF",  # not UTF-8
        "a=caf\u00e9",
        "a=1\r\nX-Evil: 1",
        "\u00e9=1",
    ],
)
def test_invalid_baggage_entry_is_dropped(header: str) -> None:
    ctx = extract({"baggage": f"ok=1,{header}"})
    assert dict(ctx.baggage) == {"ok": "1"}
    assert ctx.rejected == (Rejection.BAGGAGE_DROPPED,)


def test_baggage_over_180_entries_is_cut() -> None:
    header = ",".join(f"k{i}=v" for i in range(200))
    ctx = extract({"baggage": header})
    assert len(ctx.baggage) == 180
    assert "k179" in ctx.baggage
    assert "k180" not in ctx.baggage
    assert Rejection.BAGGAGE_DROPPED in ctx.rejected


def test_baggage_over_8192_bytes_is_cut() -> None:
    header = ",".join(f"k{i}=" + "v" * 1000 for i in range(10))
    ctx = extract({"baggage": header})
    assert len(inject(context=ctx)["baggage"]) <= 8192
    assert 0 < len(ctx.baggage) < 10
    assert Rejection.BAGGAGE_DROPPED in ctx.rejected


def test_huge_baggage_header_is_ignored_without_parsing() -> None:
    ctx = extract({"baggage": "a=1," * 50_000})
    assert dict(ctx.baggage) == {}
    assert ctx.rejected == (Rejection.BAGGAGE_DROPPED,)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("plain-value_1.0~", "plain-value_1.0~"),
        ("a b", "a%20b"),
        ("x+y", "x%2By"),
        ("\u2713", "%E2%9C%93"),
        ("a\r\nb", "a%0D%0Ab"),
        ("a,b;c=d", "a%2Cb%3Bc%3Dd"),
        ("%41", "%2541"),
    ],
)
def test_baggage_values_are_percent_encoded(value: str, encoded: str) -> None:
    out = inject(context=CorrelationContext(baggage={"k": value}))
    assert out["baggage"] == f"k={encoded}"
    assert extract(out).baggage["k"] == value


def test_incoming_plus_is_reencoded_for_plus_as_space_parsers() -> None:
    ctx = extract({"baggage": "a=x+y,b=%41"})
    assert inject(context=ctx)["baggage"] == "a=x%2By,b=%41"


def test_baggage_limits_apply_on_inject() -> None:
    many = {f"k{i}": "v" for i in range(300)}
    out = inject(context=CorrelationContext(baggage=many))
    assert out["baggage"].count(",") == 179
    big = {f"k{i}": "v" * 3000 for i in range(5)}
    out = inject(context=CorrelationContext(baggage=big))
    assert len(out["baggage"]) <= 8192
    huge = {"k": "v" * 5000}  # one member over 4096 bytes
    assert "baggage" not in inject(context=CorrelationContext(baggage=huge))


def test_unencodable_baggage_value_is_skipped() -> None:
    out = inject(context=CorrelationContext(baggage={"a": "\ud800", "b": "ok"}))
    assert out["baggage"] == "b=ok"


hex_trace = st.integers(1, 2**128 - 1).map(lambda n: f"{n:032x}")
hex_span = st.integers(1, 2**64 - 1).map(lambda n: f"{n:016x}")
ts_keys = st.from_regex(r"[a-z][a-z0-9_\-*/]{0,20}(@[a-z][a-z0-9_\-*/]{0,13})?", fullmatch=True)
ts_values = st.from_regex(
    r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,30}[\x21-\x2b\x2d-\x3c\x3e-\x7e]", fullmatch=True
)


@given(
    version=st.integers(0, 254).map(lambda n: f"{n:02x}"),
    trace_id=hex_trace,
    span_id=hex_span,
    flags=st.integers(0, 255),
    extra=st.from_regex(r"(-[a-z0-9]{0,10}){0,3}", fullmatch=True),
)
def test_traceparent_property(
    version: str, trace_id: str, span_id: str, flags: int, extra: str
) -> None:
    value = f"{version}-{trace_id}-{span_id}-{flags:02x}"
    ctx = extract({"traceparent": value + (extra if version != "00" else "")})
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags) == (trace_id, span_id, flags & 0x03)
    # Any uppercase letter makes it invalid.
    upper = value.upper()
    if upper != value:
        assert extract({"traceparent": upper}).trace_id != trace_id


@given(st.dictionaries(ts_keys, ts_values, max_size=16))
def test_tracestate_round_trip(members: dict[str, str]) -> None:
    header = " , ".join(f"{k}={v}" for k, v in members.items())
    ctx = extract({"traceparent": f"00-{T}-{S}-01", "tracestate": header})
    assert ctx.rejected == ()
    assert ctx.tracestate == ",".join(f"{k}={v}" for k, v in members.items())
    assert extract(inject(context=ctx)).tracestate == ctx.tracestate
