"""extract() and inject(): round trips, header handling, rejections."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from meshsec.correlation import (
    CorrelationConfig,
    CorrelationContext,
    PropagationBoundary,
    Rejection,
    extract,
    inject,
    rejection_counts,
)
from tests.correlation.conftest import SPAN_ID, TRACE_ID, TRACEPARENT

ids = st.from_regex(r"[A-Za-z0-9._:\-]{1,128}", fullmatch=True)
hex_ids = st.integers(1, 2**128 - 1).map(lambda n: f"{n:032x}")
span_ids = st.integers(1, 2**64 - 1).map(lambda n: f"{n:016x}")
baggage_keys = st.from_regex(r"[a-z][a-zA-Z0-9_.\-]{0,20}", fullmatch=True).filter(
    lambda k: not any(w in k.lower() for w in ("key", "auth", "token", "secret", "session"))
)
baggage_values = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def test_extract_reads_every_header(headers: dict[str, str]) -> None:
    ctx = extract(headers)
    assert ctx.correlation_id == "req-42"
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags) == (TRACE_ID, SPAN_ID, 1)
    assert ctx.sampled
    assert ctx.remote
    assert ctx.tracestate == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    assert dict(ctx.baggage) == {"userId": "alice", "serverNode": "DF 28", "isProduction": "false"}
    assert ctx.rejected == ()


def test_round_trip_forwards_the_same_headers(headers: dict[str, str]) -> None:
    out = inject(context=extract(headers))
    assert out == headers


@given(
    cid=ids,
    trace_id=hex_ids,
    span_id=span_ids,
    flags=st.sampled_from([0, 1]),
    baggage=st.dictionaries(baggage_keys, baggage_values, max_size=10),
)
def test_round_trip_property(
    cid: str, trace_id: str, span_id: str, flags: int, baggage: dict[str, str]
) -> None:
    ctx = CorrelationContext(
        correlation_id=cid, trace_id=trace_id, span_id=span_id, trace_flags=flags, baggage=baggage
    )
    back = extract(inject(context=ctx))
    assert back.correlation_id == cid
    assert (back.trace_id, back.span_id, back.trace_flags) == (trace_id, span_id, flags)
    assert dict(back.baggage) == baggage
    assert back.rejected == ()


def test_header_names_are_case_insensitive() -> None:
    ctx = extract({"x-correlation-id": "abc", "TRACEPARENT": TRACEPARENT, "Baggage": "a=1"})
    assert ctx.correlation_id == "abc"
    assert ctx.trace_id == TRACE_ID
    assert dict(ctx.baggage) == {"a": "1"}


def test_request_id_is_accepted_on_input_only() -> None:
    ctx = extract({"X-Request-ID": "from-nginx"})
    assert ctx.correlation_id == "from-nginx"
    assert inject(context=ctx)["X-Correlation-ID"] == "from-nginx"
    assert "X-Request-ID" not in inject(context=ctx)


def test_correlation_id_wins_over_request_id() -> None:
    ctx = extract({"X-Request-ID": "r", "X-Correlation-ID": "c"})
    assert ctx.correlation_id == "c"


def test_missing_headers_start_fresh_without_rejections() -> None:
    ctx = extract({})
    assert ctx.remote is False
    assert ctx.rejected == ()
    assert len(ctx.correlation_id) == 32
    assert extract({}).correlation_id != ctx.correlation_id


def test_empty_id_header_counts_as_missing() -> None:
    assert extract({"X-Correlation-ID": "  "}).rejected == ()


def test_crlf_correlation_id_is_replaced_and_counted() -> None:
    before = rejection_counts()[Rejection.INVALID_ID]
    ctx = extract({"X-Correlation-ID": "abc\r\nX-Admin: true"})
    assert "\r" not in ctx.correlation_id
    assert "abc" not in ctx.correlation_id
    assert ctx.rejected == (Rejection.INVALID_ID,)
    assert rejection_counts()[Rejection.INVALID_ID] == before + 1


def test_oversize_correlation_id_is_replaced() -> None:
    ctx = extract({"X-Correlation-ID": "a" * 129})
    assert ctx.correlation_id != "a" * 129
    assert Rejection.INVALID_ID in ctx.rejected
    assert extract({"X-Correlation-ID": "a" * 128}).correlation_id == "a" * 128


def test_conflicting_duplicate_traceparents_start_a_new_trace() -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    ctx = extract({"traceparent": TRACEPARENT, "TraceParent": other})
    assert ctx.trace_id not in (TRACE_ID, "1" * 32)
    assert Rejection.DUPLICATE_HEADER in ctx.rejected
    assert not ctx.remote


def test_identical_duplicates_are_fine() -> None:
    ctx = extract({"traceparent": TRACEPARENT, "TraceParent": TRACEPARENT})
    assert ctx.trace_id == TRACE_ID
    assert ctx.rejected == ()


def test_multiple_field_lines_of_list_headers_are_combined() -> None:
    ctx = extract(
        {"traceparent": TRACEPARENT, "tracestate": ["a=1", "b=2"], "baggage": ["x=1", "y=2"]}
    )
    assert ctx.tracestate == "a=1,b=2"
    assert dict(ctx.baggage) == {"x": "1", "y": "2"}


def test_bytes_headers_are_read() -> None:
    ctx = extract({b"traceparent": TRACEPARENT.encode(), b"x-correlation-id": b"abc"})
    assert ctx.trace_id == TRACE_ID
    assert ctx.correlation_id == "abc"


def test_inject_returns_the_same_mapping_it_was_given(headers: dict[str, str]) -> None:
    target: dict[str, str] = {"Accept": "text/plain"}
    assert inject(target, context=extract(headers)) is target
    assert target["Accept"] == "text/plain"


def test_inject_without_mapping_returns_a_new_dict() -> None:
    out = inject(context=CorrelationContext(correlation_id="c1"))
    assert isinstance(out, dict)
    assert out["X-Correlation-ID"] == "c1"


def test_inject_replaces_stale_case_variants(headers: dict[str, str]) -> None:
    target = {"x-correlation-id": "stale", "TRACEPARENT": "junk", "BAGGAGE": "leak=1"}
    inject(target, context=extract(headers))
    lowered = [k.lower() for k in target]
    assert len(lowered) == len(set(lowered))
    assert target["X-Correlation-ID"] == "req-42"
    assert "leak=1" not in target.values()


def test_inject_into_case_insensitive_dict(headers: dict[str, str]) -> None:
    target: CaseInsensitiveDict[str] = CaseInsensitiveDict({"x-correlation-id": "stale"})
    inject(target, context=extract(headers))
    assert target["X-CORRELATION-ID"] == "req-42"
    assert len(target) == 4


def test_inject_uses_the_current_context(headers: dict[str, str]) -> None:
    from meshsec.correlation import scope

    with scope(headers):
        assert inject()["X-Correlation-ID"] == "req-42"


def test_custom_header_names() -> None:
    cfg = CorrelationConfig(id_header="X-Trace-Ref", id_aliases=(), baggage_header="ctx")
    ctx = extract({"x-trace-ref": "r1", "ctx": "a=1", "X-Request-ID": "ignored"}, config=cfg)
    assert ctx.correlation_id == "r1"
    assert dict(ctx.baggage) == {"a": "1"}
    out = inject(context=ctx, config=cfg)
    assert out["X-Trace-Ref"] == "r1"
    assert out["ctx"] == "a=1"


def test_secret_looking_baggage_is_dropped_on_extract() -> None:
    ctx = extract({"baggage": "tenant=acme,api_key=sk-123,Authorization=Bearer%20x,sessionId=9"})
    assert dict(ctx.baggage) == {"tenant": "acme"}
    assert Rejection.BAGGAGE_SECRET_DROPPED in ctx.rejected


def test_secret_looking_baggage_is_never_injected() -> None:
    ctx = CorrelationContext(
        baggage={"tenant": "acme", "password": "hunter2", "X-Api-Key": "k", "refresh_token": "t"}
    )
    out = inject(context=ctx)
    assert out["baggage"] == "tenant=acme"
    for secret in ("hunter2", "password", "Api-Key", "refresh_token"):
        assert secret not in str(out)


def test_boundary_withholds_but_id_and_traceparent_flow(headers: dict[str, str]) -> None:
    cfg = CorrelationConfig(boundary=PropagationBoundary(hosts=("*.internal.example",)))
    ctx = extract(headers, config=cfg)
    outside = inject(context=ctx, destination="https://api.partner.example/", config=cfg)
    assert set(outside) == {"X-Correlation-ID", "traceparent"}
    inside = inject(context=ctx, destination="https://billing.internal.example/x", config=cfg)
    assert set(inside) == {"X-Correlation-ID", "traceparent", "tracestate", "baggage"}


def test_default_boundary_withholds_from_any_destination(headers: dict[str, str]) -> None:
    out = inject(context=extract(headers), destination="http://localhost:8080/")
    assert "baggage" not in out
    assert "tracestate" not in out


def test_forwarded_incoming_headers_cannot_smuggle_baggage_out(headers: dict[str, str]) -> None:
    forwarded = dict(headers)
    inject(forwarded, context=extract(headers), destination="https://evil.example/")
    assert "baggage" not in forwarded
    assert "tracestate" not in forwarded
