"""Conformance: meshsec.correlation called exactly as issue 5 writes it."""

from __future__ import annotations

import asyncio
import contextvars
import email.message
import io
import json
import logging
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import correlation
from meshsec.correlation import (
    CorrelationConfig,
    CorrelationContext,
    CorrelationFilter,
    JsonFormatter,
    PropagationBoundary,
    current,
    current_id,
    extract,
    inject,
    scope,
)
from meshsec.errors import ConfigError
from meshsec.identity import SpiffeId
from tests.correlation.conftest import SPAN_ID, TRACE_ID, TRACEPARENT

_SAFE_ID = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
_BOUNDARY = CorrelationConfig(
    boundary=PropagationBoundary(hosts=("*.internal.example",), trust_domains=("example.org",))
)


def _full(cid: str = "req-42") -> dict[str, str]:
    return {
        "X-Correlation-ID": cid,
        "traceparent": TRACEPARENT,
        "tracestate": "rojo=00f067aa0ba902b7",
        "baggage": "tenant=acme",
    }


# --- the five calls, positional as written ---------------------------------------------


def test_extract_headers_returns_a_correlation_context() -> None:
    ctx = extract(_full())
    assert isinstance(ctx, CorrelationContext)
    assert (ctx.correlation_id, ctx.trace_id, ctx.span_id) == ("req-42", TRACE_ID, SPAN_ID)
    assert ctx.traceparent == TRACEPARENT
    assert ctx.tracestate == "rojo=00f067aa0ba902b7"
    assert dict(ctx.baggage) == {"tenant": "acme"}


def test_inject_headers_returns_the_same_headers_object() -> None:
    headers = {"Accept": "text/plain"}
    with scope(_full()):
        returned = inject(headers)
    assert returned is headers
    assert headers["Accept"] == "text/plain"
    assert headers["X-Correlation-ID"] == "req-42"
    assert headers["traceparent"].startswith(f"00-{TRACE_ID}-")


def test_inject_extract_round_trip() -> None:
    original = extract(_full())
    again = extract(inject({}, context=original))
    assert again.correlation_id == original.correlation_id
    assert (again.trace_id, again.span_id) == (original.trace_id, original.span_id)
    assert again.tracestate == original.tracestate
    assert dict(again.baggage) == dict(original.baggage)


def test_scope_takes_headers_or_a_context_positionally() -> None:
    with scope(_full("from-headers")) as ctx:
        assert current_id() == "from-headers"
        assert current() == ctx
    given_ctx = CorrelationContext(correlation_id="given")
    with scope(given_ctx) as ctx:
        assert ctx is given_ctx
        assert current_id() == "given"
    with scope(headers_or_context={"X-Correlation-ID": "kw"}):
        assert current_id() == "kw"


def test_scope_is_async_safe() -> None:
    async def handle(cid: str) -> str:
        async with scope({"X-Correlation-ID": cid}):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return current_id()

    async def main() -> list[str]:
        return list(await asyncio.gather(*(handle(f"task-{i}") for i in range(20))))

    assert asyncio.run(main()) == [f"task-{i}" for i in range(20)]


def test_scope_isolates_threads() -> None:
    seen: dict[int, str] = {}
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        with scope({"X-Correlation-ID": f"thread-{i}"}):
            barrier.wait()
            seen[i] = current_id()

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(work, i)) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {i: f"thread-{i}" for i in range(8)}


def test_current_and_current_id_types_and_stability() -> None:
    def outside() -> None:
        first = current()
        assert isinstance(first, CorrelationContext)
        assert isinstance(current_id(), str)
        assert current_id() == first.correlation_id  # repeated calls agree

    contextvars.copy_context().run(outside)


def test_scope_restores_previous_context() -> None:
    with scope({"X-Correlation-ID": "outer"}):
        with scope({"X-Correlation-ID": "inner"}):
            assert current_id() == "inner"
        assert current_id() == "outer"


# --- header names ------------------------------------------------------------------


def test_x_request_id_is_accepted_on_input_only() -> None:
    ctx = extract({"X-Request-ID": "rid-7"})
    assert ctx.correlation_id == "rid-7"
    out = inject({}, context=ctx)
    assert out["X-Correlation-ID"] == "rid-7"
    assert not any(name.lower() == "x-request-id" for name in out)


def test_correlation_id_header_wins_over_request_id() -> None:
    assert extract({"X-Request-ID": "rid", "X-Correlation-ID": "cid"}).correlation_id == "cid"


def test_header_names_are_case_insensitive_on_input() -> None:
    ctx = extract({"x-correlation-id": "lower", "TRACEPARENT": TRACEPARENT})
    assert (ctx.correlation_id, ctx.trace_id) == ("lower", TRACE_ID)


def test_header_names_are_configurable() -> None:
    config = CorrelationConfig(
        id_header="X-Trace-Ref",
        id_aliases=("X-Amzn-Trace-Ref",),
        traceparent_header="x-tp",
        tracestate_header="x-ts",
        baggage_header="x-bag",
    )
    ctx = extract(
        {"X-Amzn-Trace-Ref": "alias-1", "x-tp": TRACEPARENT, "x-bag": "a=1"}, config=config
    )
    assert (ctx.correlation_id, ctx.trace_id, dict(ctx.baggage)) == (
        "alias-1",
        TRACE_ID,
        {"a": "1"},
    )
    out = inject({}, context=ctx, config=config)
    assert set(out) == {"X-Trace-Ref", "x-tp", "x-bag"}


def test_bad_header_name_config_is_a_typed_error() -> None:
    with pytest.raises(correlation.CorrelationConfigError) as info:
        CorrelationConfig(id_header="bad header\r\n")
    assert info.value.code == "correlation.invalid_config"
    assert isinstance(info.value, ConfigError)


def test_extract_reads_http_server_messages_and_raw_pair_lists() -> None:
    message = email.message.Message()  # what http.server hands a handler as self.headers
    message["X-Correlation-ID"] = "from-message"
    assert extract(message).correlation_id == "from-message"
    asgi = [(b"x-correlation-id", b"from-asgi"), (b"traceparent", TRACEPARENT.encode())]
    ctx = extract(asgi)
    assert (ctx.correlation_id, ctx.trace_id) == ("from-asgi", TRACE_ID)
    assert extract(None).correlation_id  # no headers: a fresh root context


# --- hostile correlation IDs -------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "abc\r\nSet-Cookie: admin=1",
        "abc\nx",
        "nul\x00byte",
        "tab\tinside",
        "esc\x1b[31m",
        "caf\u00e9",
        "\u202eevil",
        "x" * 129,
        "a b",
        "a/b",
        "",
    ],
)
def test_hostile_correlation_id_is_replaced_and_counted(hostile: str) -> None:
    before = correlation.rejection_counts()["correlation.invalid_id"]
    ctx = extract({"X-Correlation-ID": hostile})
    assert ctx.correlation_id != hostile
    assert set(ctx.correlation_id) <= _SAFE_ID
    assert 1 <= len(ctx.correlation_id) <= 128
    if hostile:
        assert "correlation.invalid_id" in ctx.rejected
        assert correlation.rejection_counts()["correlation.invalid_id"] == before + 1


@pytest.mark.parametrize(
    "good", ["a", "A-z_0.9:x", "x" * 128, "550e8400-e29b-41d4-a716-446655440000"]
)
def test_safe_correlation_ids_are_kept(good: str) -> None:
    ctx = extract({"X-Correlation-ID": good})
    assert ctx.correlation_id == good
    assert ctx.rejected == ()


def test_hostile_correlation_id_is_evented_through_audit() -> None:
    from meshsec import audit  # audit sits above correlation: it does the eventing

    with audit.capture() as events, scope({"X-Correlation-ID": "bad\r\nid"}):
        audit.record_correlation_rejections()
    assert [e.reason for e in events] == ["correlation.invalid_id"]
    assert "bad" not in events[0].to_json()


# --- W3C trace context ---------------------------------------------------------------

_T, _S = TRACE_ID, SPAN_ID


@pytest.mark.parametrize(
    "traceparent",
    [
        f"ff-{_T}-{_S}-01",  # version ff is invalid
        f"00-{'0' * 32}-{_S}-01",  # all-zero trace id
        f"00-{_T}-{'0' * 16}-01",  # all-zero parent id
        f"00-{_T[:-1]}-{_S}-01",  # short trace id
        f"00-{_T}0-{_S}-01",  # long trace id
        f"00-{_T}-{_S[:-1]}-01",  # short parent id
        f"00-{_T}-{_S}-1",  # short flags
        f"00-{_T.upper()}-{_S}-01",  # uppercase hex
        f"00-{_T}-{_S.upper()}-01",
        f"00-{_T}-{_S}-0A",
        f"0A-{_T}-{_S}-01",
        f"00-{_T}-{_S}-01-extra",  # version 00 has exactly four fields
        f"0-{_T}-{_S}-01",
        f"00_{_T}_{_S}_01",
        "",
    ],
)
def test_malformed_traceparent_starts_a_new_trace(traceparent: str) -> None:
    ctx = extract({"traceparent": traceparent, "tracestate": "rojo=1"})
    assert ctx.trace_id != _T
    assert len(ctx.trace_id) == 32
    assert ctx.trace_id != "0" * 32
    assert ctx.tracestate == ""  # tracestate is ignored with an invalid traceparent
    assert not ctx.remote


def test_future_version_traceparent_is_read_by_its_first_four_fields() -> None:
    ctx = extract({"traceparent": f"cc-{_T}-{_S}-01-what-the-future-holds"})
    assert (ctx.trace_id, ctx.span_id, ctx.sampled) == (_T, _S, True)
    assert inject({}, context=ctx)["traceparent"] == f"00-{_T}-{_S}-01"


def test_valid_traceparent_keeps_trace_and_flags() -> None:
    ctx = extract({"traceparent": f"00-{_T}-{_S}-00"})
    assert (ctx.trace_id, ctx.span_id, ctx.sampled, ctx.remote) == (_T, _S, False, True)


# --- baggage limits ------------------------------------------------------------------


def test_baggage_keeps_180_entries_and_drops_the_181st() -> None:
    exact = ",".join(f"k{i}=v" for i in range(180))
    kept = extract({"baggage": exact})
    assert len(kept.baggage) == 180
    assert kept.rejected == ()
    over = extract({"baggage": exact + ",k180=v"})
    assert len(over.baggage) == 180
    assert "k180" not in over.baggage
    assert "correlation.baggage_dropped" in over.rejected


def test_baggage_is_bounded_to_8192_bytes() -> None:
    entries = [f"k{i}={'v' * 1000}" for i in range(12)]  # ~12 kB in all
    ctx = extract({"baggage": ",".join(entries)})
    out = inject({}, context=ctx)
    assert 0 < len(out["baggage"].encode()) <= 8192
    assert "correlation.baggage_dropped" in ctx.rejected


# --- propagation boundary ----------------------------------------------------------------


def test_inject_destination_url_inside_and_outside() -> None:
    ctx = extract(_full(), config=_BOUNDARY)
    inside = inject(
        {}, destination="https://billing.internal.example/pay", context=ctx, config=_BOUNDARY
    )
    assert inside["baggage"] == "tenant=acme"
    assert "tracestate" in inside
    outside = inject({}, destination="https://partner.example/", context=ctx, config=_BOUNDARY)
    assert set(outside) == {"X-Correlation-ID", "traceparent"}  # ID and traceparent always flow


def test_inject_destination_spiffe_id_string_and_object() -> None:
    ctx = extract(_full(), config=_BOUNDARY)
    for destination in (
        "spiffe://example.org/ns/prod/sa/billing",
        SpiffeId.parse("spiffe://example.org/billing"),
    ):
        out = inject({}, destination=destination, context=ctx, config=_BOUNDARY)
        assert out["baggage"] == "tenant=acme", destination
    foreign = SpiffeId.parse("spiffe://other.org/billing")
    out = inject({}, destination=foreign, context=ctx, config=_BOUNDARY)
    assert "baggage" not in out
    assert "tracestate" not in out


def test_default_boundary_withholds_baggage_from_any_named_destination() -> None:
    with scope(_full()):
        out = inject({}, destination="https://billing.internal.example/")
    assert "baggage" not in out
    assert "tracestate" not in out
    assert out["X-Correlation-ID"] == "req-42"


def test_forwarded_baggage_is_stripped_for_an_outside_destination() -> None:
    forwarded = {"Baggage": "tenant=acme", "TraceState": "rojo=1", "Accept": "*/*"}
    with scope(_full()):
        out = inject(forwarded, destination="https://partner.example/")
    assert {k.lower() for k in out} == {"accept", "x-correlation-id", "traceparent"}


@pytest.mark.parametrize(
    "key",
    ["token", "api_key", "password", "Authorization", "session_id", "client_secret", "cookie"],
)
def test_secret_looking_baggage_never_propagates(key: str) -> None:
    ctx = extract({"baggage": f"{key}=s3cr3t-value,tenant=acme"})
    assert dict(ctx.baggage) == {"tenant": "acme"}
    by_hand = CorrelationContext(baggage={key: "s3cr3t-value", "tenant": "acme"})
    for context in (ctx, by_hand):
        out = inject({}, context=context)
        assert "s3cr3t" not in json.dumps(out)
        assert "s3cr3t" not in repr(context)


# --- hostile input never comes out of inject ---------------------------------------


@given(
    cid=st.text(max_size=300) | st.just("x" * 10_000),
    traceparent=st.text(max_size=120),
    baggage=st.text(max_size=600) | st.just("k=" + "v" * 10_000),
)
def test_nothing_unsafe_comes_out_of_inject_for_arbitrary_text(
    cid: str, traceparent: str, baggage: str
) -> None:
    incoming = {"X-Correlation-ID": cid, "traceparent": traceparent, "baggage": baggage}
    with scope(incoming):
        out = inject({})
    for name, value in out.items():
        assert value.isascii(), name
        assert value.isprintable(), name
        assert "\r" not in value
        assert "\n" not in value
        assert "\x00" not in value
        assert len(value) <= 8192
    assert set(out["X-Correlation-ID"]) <= _SAFE_ID
    assert len(out["X-Correlation-ID"]) <= 128
    assert len(out["traceparent"]) == 55


# --- logging ------------------------------------------------------------------------


def _capture_logger(
    formatter: logging.Formatter | None = None,
) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(
        formatter or logging.Formatter("%(correlation_id)s %(trace_id)s %(span_id)s %(message)s")
    )
    log = logging.getLogger(f"tests.conformance.{id(stream)}")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, stream


def test_correlation_filter_adds_the_three_fields() -> None:
    assert isinstance(CorrelationFilter(), logging.Filter)
    log, stream = _capture_logger()
    with scope(_full()):
        log.info("hello")
    assert stream.getvalue() == f"req-42 {TRACE_ID} {SPAN_ID} hello\n"


def test_json_formatter_writes_one_safe_object_per_record() -> None:
    log, stream = _capture_logger(JsonFormatter())
    with scope(_full()):
        log.info("path=%s", '/x\r\n{"level":"CRITICAL"}\x1b[2J')
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert "\r" not in text
    assert "\x1b" not in text
    entry = json.loads(text)
    assert (entry["correlation_id"], entry["trace_id"], entry["span_id"]) == (
        "req-42",
        TRACE_ID,
        SPAN_ID,
    )
    assert entry["level"] == "INFO"
    assert entry["time"].endswith("Z")


def test_library_adds_only_a_null_handler() -> None:
    handlers = logging.getLogger("meshsec").handlers
    assert handlers
    assert all(isinstance(h, logging.NullHandler) for h in handlers)


@pytest.mark.parametrize("hostile", ["evil\r\nSet-Cookie: a=1", "\x1b[2J", "x" * 129, b"\xff\xfe"])
def test_forwarded_hostile_request_id_is_not_propagated_raw(hostile: str | bytes) -> None:
    forwarded: dict[object, object] = {"X-Request-ID": hostile, b"x-request-id": hostile}
    out = inject(forwarded)  # type: ignore[type-var]
    assert not any(str(k).lower().endswith("x-request-id") for k in out if not isinstance(k, bytes))
    assert b"x-request-id" not in out
    kept = inject({"X-Request-ID": "rid-42"})
    assert kept["X-Request-ID"] == "rid-42"  # a safe forwarded ID goes on unchanged
