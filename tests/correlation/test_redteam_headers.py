"""Red team: hostile headers, W3C edge cases and boundary bypasses.

Each test is named after the attack it defends against.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.correlation import (
    CorrelationConfig,
    CorrelationConfigError,
    CorrelationContext,
    PropagationBoundary,
    Rejection,
    extract,
    inject,
    scope,
)
from tests.correlation.conftest import SPAN_ID, TRACE_ID, TRACEPARENT

SAFE_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
INSIDE = "https://svc.internal.example/"
OUTSIDE = "https://api.partner.example/"
CONFIG = CorrelationConfig(
    boundary=PropagationBoundary(
        hosts=("*.internal.example", "allowed.example", "[::1]", "127.0.0.1"),
        trust_domains=("example.org",),
    )
)

# One of every kind of character that must never come out raw.
CONTROL_CHARS = ["\r", "\n", "\x00", "\x7f", "\x85", "\x9b", "\x1b", "\u2028", "\u202e", "é"]


# --- smuggling past the boundary ------------------------------------------------


def test_forwarded_bytes_headers_cannot_smuggle_baggage_out():
    # ASGI servers and raw proxies hand over header names as bytes; extract()
    # reads them, so inject() must also clear them, or b"baggage" rides along.
    incoming = {
        b"baggage": b"tenant=acme",
        b"TraceState": b"rojo=1",
        b"x-correlation-id": b"abc",
        b"Traceparent": TRACEPARENT.encode(),
        b"accept": b"*/*",
    }
    with scope(incoming, config=CONFIG):
        out = inject(dict(incoming), destination=OUTSIDE, config=CONFIG)
    names = {(k.decode() if isinstance(k, bytes) else k).lower() for k in out}
    assert "baggage" not in names
    assert "tracestate" not in names
    assert names == {"accept", "x-correlation-id", "traceparent"}
    assert out["X-Correlation-ID"] == "abc"
    assert out["traceparent"].startswith(f"00-{TRACE_ID}-")


def test_one_string_as_boundary_hosts_is_refused_not_split_into_letters():
    # hosts="localhost" used to become ("l", "o", "c", ...): "http://l/" was inside.
    with pytest.raises(CorrelationConfigError) as info:
        PropagationBoundary(hosts="localhost")  # type: ignore[arg-type]
    assert info.value.code == "correlation.invalid_config"
    with pytest.raises(CorrelationConfigError):
        PropagationBoundary(trust_domains="example.org")  # type: ignore[arg-type]
    with pytest.raises(CorrelationConfigError):
        PropagationBoundary(hosts=b"localhost")  # type: ignore[arg-type]
    with pytest.raises(CorrelationConfigError):
        PropagationBoundary(hosts=(b"localhost",))  # type: ignore[arg-type]
    with pytest.raises(CorrelationConfigError):
        PropagationBoundary(hosts=None)  # type: ignore[arg-type]


def test_one_string_as_id_aliases_is_refused_with_a_clear_error():
    with pytest.raises(CorrelationConfigError, match="tuple or list"):
        CorrelationConfig(id_aliases="X-Request-ID")  # type: ignore[arg-type]
    assert CorrelationConfig(id_aliases=["X-Request-ID"]).id_aliases == ("X-Request-ID",)


@pytest.mark.parametrize(
    "destination",
    [
        "http://allowed.example@evil.example/",
        "http://allowed.example:443@evil.example/",
        "http://evil.example\\@allowed.example/",
        "http://evil.example\\.allowed.example/",
        "http://allowed.example%2eevil.example/",
        "http://evil%2eallowed.example/",
        "http://allowed.example%00.evil.example/",
        "http://allowed.example\x00.evil.example/",
        "http://allowed.example\t/",
        "http://allowed.example\r\n/",
        " http://allowed.example/",
        "//allowed.example/",
        "http:/allowed.example/",
        "http:allowed.example",
        "allowed.example",
        "http://allowed.example../",
        "http://.allowed.example/",
        "http://allowed.example.evil.example/",
        "http://evil-allowed.example/",
        "http://xn--allowed-3ya.example/",
        "http://allowéd.example/",
        "http://\uff41llowed.example/",
        "http://allowed\u3002example/",
        "http://internal.example/",
        "http://[::1%25eth0]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://127.0.0.1.nip.io/",
        "http://[::ffff:127.0.0.1]/",
        "spiffe://example.org.evil.example/ns/a",
        "spiffe://evil.example/example.org",
        "spiffe://EXAMPLE.ORG/ns/a",
        "SPIFFE://example.org/ns/a",
        "spiffe://example.org:443/ns/a",
        "spiffe://user@example.org/ns/a",
        "spiffe://example.org//a",
        "spiffe://example.org/a/",
        "spiffe://example.org/a?b",
        "spiffe://example.org/a#b",
        "spiffe://example.org/%61",
        "spiffe://example.org./a",
        "spiffe://",
        b"https://allowed.example/",
        ("https://allowed.example/",),
    ],
)
def test_boundary_bypass_attempts_count_as_outside(destination: object):
    ctx = extract({"traceparent": TRACEPARENT, "tracestate": "rojo=1", "baggage": "t=1"})
    out = inject(context=ctx, destination=destination, config=CONFIG)
    assert set(out) == {"X-Correlation-ID", "traceparent"}, destination


@pytest.mark.parametrize(
    "destination",
    [
        "https://allowed.example",
        "HTTPS://ALLOWED.EXAMPLE./x",
        "https://allowed.example:8443/path?q=1#f",
        "https://allowed.example/@evil.example",
        "https://a.b.internal.example/",
        "http://[::1]:8080/",
        "http://127.0.0.1/",
        "spiffe://example.org/ns/prod/sa/billing",
        "spiffe://example.org",
    ],
)
def test_boundary_still_admits_its_own_destinations(destination: str):
    ctx = extract({"traceparent": TRACEPARENT, "tracestate": "rojo=1", "baggage": "t=1"})
    out = inject(context=ctx, destination=destination, config=CONFIG)
    assert out["baggage"] == "t=1"
    assert out["tracestate"] == "rojo=1"


# --- secret-looking baggage -----------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "pass_word",
        "Pass-Word",
        "sec.ret",
        "Api_Key",
        "x-auth-token",
        "SESSIONID",
        "p%61ss%5fword",
        "%50ASSWORD",
        "acc.ess_tok-en",
        "Private.Key",
        "client-credential",
    ],
)
def test_secret_looking_baggage_keys_with_separators_or_encodings_never_propagate(key: str):
    ctx = extract({"baggage": f"{key}=s3cr3t,tenant=acme"})
    assert dict(ctx.baggage) == {"tenant": "acme"}
    assert Rejection.BAGGAGE_SECRET_DROPPED in ctx.rejected
    handmade = CorrelationContext(baggage={key: "s3cr3t"})
    assert "s3cr3t" not in repr(handmade)
    assert "baggage" not in inject(context=handmade)


# --- hostile values through every header ---------------------------------------


@pytest.mark.parametrize("char", CONTROL_CHARS)
@pytest.mark.parametrize(
    "header", ["X-Correlation-ID", "X-Request-ID", "traceparent", "tracestate", "baggage"]
)
def test_control_and_non_ascii_characters_never_come_out_of_inject(header: str, char: str):
    values = {
        "X-Correlation-ID": f"abc{char}def",
        "X-Request-ID": f"abc{char}def",
        "traceparent": TRACEPARENT[:-2] + char + "1",
        "tracestate": f"rojo=1{char},congo=2",
        "baggage": f"k=v{char},j=w",
    }
    incoming = {header: values[header]}
    if header != "traceparent":
        incoming["traceparent"] = TRACEPARENT
    for value in (values[header], values[header].encode("utf-8"), [values[header]]):
        incoming[header] = value  # type: ignore[assignment]
        out = inject(context=extract(incoming))
        for name, sent in out.items():
            assert SAFE_VALUE.fullmatch(sent), (name, sent)
            assert char not in sent


@pytest.mark.parametrize(
    "header", ["X-Correlation-ID", "X-Request-ID", "traceparent", "tracestate", "baggage"]
)
def test_megabyte_header_values_are_refused_fast(header: str):
    hostile = {
        "X-Correlation-ID": "a" * 1_000_000,
        "X-Request-ID": "a" * 1_000_000,
        "traceparent": TRACEPARENT + "-" + "a" * 1_000_000,
        "tracestate": "a=b," * 250_000,
        "baggage": "a=b," * 250_000,
    }[header]
    incoming = {"traceparent": TRACEPARENT, header: hostile}
    start = time.perf_counter()
    for _ in range(5):
        ctx = extract(incoming)
        out = inject(context=ctx)
    elapsed = (time.perf_counter() - start) / 5
    # Bounded work: far below what parsing a megabyte would cost.
    assert elapsed < 0.05, elapsed
    assert ctx.rejected
    assert all(len(v) <= 8192 for v in out.values())


def test_a_list_of_many_field_lines_is_bounded_too():
    incoming = {"traceparent": TRACEPARENT, "baggage": ["k=v"] * 100_000}
    start = time.perf_counter()
    ctx = extract(incoming)
    assert time.perf_counter() - start < 0.5
    assert len(inject(context=ctx).get("baggage", "")) <= 8192


@pytest.mark.parametrize(
    "variants",
    [
        {"X-Correlation-ID": "a", "x-correlation-id": "b"},
        {"traceparent": TRACEPARENT, "TRACEPARENT": f"00-{TRACE_ID}-{'1' * 16}-01"},
        {"X-Request-ID": "a", "x-request-id": "b"},
    ],
)
def test_conflicting_duplicates_in_different_cases_are_not_trusted(variants: dict[str, str]):
    ctx = extract(variants)
    assert Rejection.DUPLICATE_HEADER in ctx.rejected
    assert ctx.correlation_id not in ("a", "b")
    assert not ctx.remote


def test_non_text_header_values_fail_soft():
    for value in (1, 1.5, None, object(), ["a", b"b"], {"a": 1}, b"\xff\xfe", True):
        ctx = extract({"X-Correlation-ID": value, "traceparent": value, "baggage": value})
        assert not ctx.remote
        assert not ctx.baggage
        assert SAFE_VALUE.fullmatch(ctx.correlation_id)


# --- W3C trace context edge cases --------------------------------------------


@pytest.mark.parametrize(
    "traceparent",
    [
        f"ff-{TRACE_ID}-{SPAN_ID}-01",
        f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID.upper()}-01",
        f"0A-{TRACE_ID}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID}-0A",
        f"00-{'0' * 32}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID}-{SPAN_ID}-01-",
        f"00-{TRACE_ID}-{SPAN_ID}-01-extra",
        f"00-{TRACE_ID}0-{SPAN_ID}-01",
        f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID}0-01",
        f"00-{TRACE_ID}-{SPAN_ID}-1",
        f"0-{TRACE_ID}-{SPAN_ID}-01",
        f"000-{TRACE_ID}-{SPAN_ID}-01",
        f"01-{TRACE_ID}-{SPAN_ID}-01x",
        f"00-{TRACE_ID}-{SPAN_ID}-01\r\n",
        f"00_{TRACE_ID}_{SPAN_ID}_01",
        f"00-{TRACE_ID}-{SPAN_ID}",
        f"00--{TRACE_ID}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID}-0g",
        f"00-{TRACE_ID}-{SPAN_ID}-\u0661\u0661",
        f"\u0660\u0660-{TRACE_ID}-{SPAN_ID}-01",
        "",
        "-",
    ],
)
def test_malformed_traceparent_starts_a_new_trace_and_drops_tracestate(traceparent: str):
    ctx = extract({"traceparent": traceparent, "tracestate": "rojo=1"})
    assert not ctx.remote
    assert ctx.trace_id != TRACE_ID
    assert ctx.tracestate == ""
    if traceparent:
        assert Rejection.INVALID_TRACEPARENT in ctx.rejected
    out = inject(context=ctx)
    assert "tracestate" not in out
    assert len(out["traceparent"]) == 55


@pytest.mark.parametrize(
    ("traceparent", "flags"),
    [
        (f"01-{TRACE_ID}-{SPAN_ID}-01", 1),
        (f"01-{TRACE_ID}-{SPAN_ID}-01-", 1),
        (f"cc-{TRACE_ID}-{SPAN_ID}-03-whatever-comes-next", 3),
        (f"00-{TRACE_ID}-{SPAN_ID}-ff", 3),
        (f"00-{TRACE_ID}-{SPAN_ID}-fc", 0),
        (f" 00-{TRACE_ID}-{SPAN_ID}-00\t", 0),
    ],
)
def test_future_versions_and_unknown_flags_follow_w3c_section_4_3(traceparent: str, flags: int):
    ctx = extract({"traceparent": traceparent})
    assert ctx.remote
    assert ctx.trace_id == TRACE_ID
    assert ctx.span_id == SPAN_ID
    assert ctx.trace_flags == flags
    assert inject(context=ctx)["traceparent"] == f"00-{TRACE_ID}-{SPAN_ID}-{flags:02x}"


@pytest.mark.parametrize(
    ("tracestate", "kept"),
    [
        ("tenant@vendor=v", "tenant@vendor=v"),
        ("0tenant@vendor=v", "0tenant@vendor=v"),
        (f"{'t' * 241}@{'v' * 14}=x", f"{'t' * 241}@{'v' * 14}=x"),
        (f"{'t' * 242}@v=x", None),
        (f"t@{'v' * 15}=x", None),
        ("t@0vendor=x", None),
        ("t@@v=x", None),
        ("@v=x", None),
        ("a@b=1,a@b=2", None),
        ("a@b=1,a@c=2", "a@b=1,a@c=2"),
        (f"{'k' * 256}=v", f"{'k' * 256}=v"),
        (f"{'k' * 257}=v", None),
        (f"k={'v' * 256}", f"k={'v' * 256}"),
        (f"k={'v' * 257}", None),
        ("K=v", None),
        ("k=v=w", None),
        ("k=v,w", None),
        ("k=\x7f", None),
        ("k=v\u00e9", None),
        ("k=", None),
        ("k=v ", "k=v"),
    ],
)
def test_tracestate_key_grammar_and_limits(tracestate: str, kept: str | None):
    ctx = extract({"traceparent": TRACEPARENT, "tracestate": tracestate})
    if kept is None:
        assert ctx.tracestate == ""
        assert Rejection.INVALID_TRACESTATE in ctx.rejected
    else:
        assert ctx.tracestate == kept
        assert inject(context=ctx)["tracestate"] == kept


def test_tracestate_member_count_limit_is_exactly_32():
    at_limit = ",".join(f"k{i}=v" for i in range(32))
    assert extract({"traceparent": TRACEPARENT, "tracestate": at_limit}).tracestate == at_limit
    over = at_limit + ",k32=v"
    ctx = extract({"traceparent": TRACEPARENT, "tracestate": over})
    assert ctx.tracestate == ""
    assert Rejection.INVALID_TRACESTATE in ctx.rejected


# --- baggage limits and encodings --------------------------------------------


def test_baggage_entry_limit_is_exactly_180():
    at_limit = ",".join(f"k{i}=v" for i in range(180))
    ctx = extract({"baggage": at_limit})
    assert len(ctx.baggage) == 180
    assert not ctx.rejected
    ctx = extract({"baggage": at_limit + ",k180=v"})
    assert len(ctx.baggage) == 180
    assert Rejection.BAGGAGE_DROPPED in ctx.rejected


def test_baggage_byte_limit_is_exactly_8192():
    first, second = "a=" + "x" * 4000, "b=" + "y" * 4000
    third = "c=" + "z" * (8192 - len(first) - len(second) - 2 - 2)
    header = f"{first},{second},{third}"
    assert len(header) == 8192
    ctx = extract({"baggage": header})
    assert set(ctx.baggage) == {"a", "b", "c"}
    assert not ctx.rejected
    assert len(inject(context=ctx)["baggage"]) == 8192
    ctx = extract({"baggage": header + "z"})
    assert set(ctx.baggage) == {"a", "b"}
    assert Rejection.BAGGAGE_DROPPED in ctx.rejected


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("k=%C3%A9", "\u00e9"),
        ("k=%2B", "+"),
        ("k=a+b", "a+b"),
        ("k=%20", " "),
        ("k=%25", "%"),
        ("k=%2C%3B%3D", ",;="),
        ("k=%0D%0A", "\r\n"),
        ("k=%E2%80%AE", "\u202e"),
    ],
)
def test_percent_decoded_baggage_values_are_reencoded_safely(raw: str, decoded: str):
    ctx = extract({"baggage": raw})
    assert dict(ctx.baggage) == {"k": decoded}
    sent = inject(context=ctx)["baggage"]
    assert SAFE_VALUE.fullmatch(sent)
    assert "+" not in sent.removeprefix("k=")
    assert dict(extract({"baggage": sent}).baggage) == {"k": decoded}


@pytest.mark.parametrize(
    "raw", ["k=%E9", "k=%C3", "k=%ED%A0%80", "k=%FF%FE", "k=\u00e9", "k=a b", "k=\\", 'k="v"']
)
def test_bad_percent_encoding_and_raw_non_ascii_baggage_is_dropped(raw: str):
    ctx = extract({"baggage": f"{raw},ok=1"})
    assert dict(ctx.baggage) == {"ok": "1"}
    assert Rejection.BAGGAGE_DROPPED in ctx.rejected


@pytest.mark.parametrize("raw", ["k=%G0", "k=%", "k=%2"])
def test_stray_percent_signs_are_kept_literally_and_round_trip(raw: str):
    # Not a valid escape: the text stays as sent (printable ASCII), so the
    # next hop decodes exactly the same value.
    ctx = extract({"baggage": raw})
    assert dict(ctx.baggage) == {"k": raw[2:]}
    sent = inject(context=ctx)["baggage"]
    assert SAFE_VALUE.fullmatch(sent)
    assert dict(extract({"baggage": sent}).baggage) == dict(ctx.baggage)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text()))
def test_any_baggage_round_trips_or_is_withheld_never_mangled(entries: dict[str, str]):
    ctx = CorrelationContext(baggage=entries)
    sent = inject(context=ctx).get("baggage", "")
    assert sent == "" or SAFE_VALUE.fullmatch(sent)
    back = dict(extract({"baggage": sent}).baggage)
    for key, value in back.items():
        assert entries[key] == value


@pytest.mark.parametrize("value", ["x" * 4095, "+" * 1400])
def test_baggage_entry_over_4096_bytes_is_dropped_so_otel_never_logs_it(
    value: str, caplog: pytest.LogCaptureFixture
):
    # OpenTelemetry's baggage propagator rejects (and logs) list-members over
    # 4096 bytes; meshsec must not keep one and hand it over later.
    caplog.set_level("DEBUG")
    ctx = extract({"baggage": f"big={value},k=v"})
    assert dict(ctx.baggage) == {"k": "v"}
    assert Rejection.BAGGAGE_DROPPED in ctx.rejected
    assert inject(context=ctx)["baggage"] == "k=v"
    from meshsec.correlation import to_otel_context

    to_otel_context(ctx, baggage=True)
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]


def test_baggage_entry_of_exactly_4096_bytes_is_kept():
    member = "big=" + "x" * 4092
    ctx = extract({"baggage": member})
    assert inject(context=ctx)["baggage"] == member


class LyingURL(str):
    """Its characters say one host, its __str__ another."""

    __slots__ = ()

    def __str__(self) -> str:
        return "https://svc.internal.example/"


def test_a_str_subclass_cannot_lie_its_way_inside_the_boundary():
    ctx = extract({"traceparent": TRACEPARENT, "baggage": "t=1"})
    out = inject(context=ctx, destination=LyingURL("https://evil.example/"), config=CONFIG)
    assert "baggage" not in out
    inside = inject(context=ctx, destination=LyingURL(INSIDE), config=CONFIG)
    assert inside["baggage"] == "t=1"


@pytest.mark.parametrize(
    "destination",
    ["api.internal.examplehttps://svc.internal.example", "evil.example.x://svc.internal.example/"],
)
def test_a_dotted_scheme_that_urllib3_reads_as_a_host_is_outside(destination: str):
    # urllib3 sees the host "api.internal.examplehttps" here; meshsec must not
    # see "svc.internal.example".
    ctx = extract({"traceparent": TRACEPARENT, "baggage": "t=1"})
    assert "baggage" not in inject(context=ctx, destination=destination, config=CONFIG)
