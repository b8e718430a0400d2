"""Interplay with OpenTelemetry: same IDs as real SDK spans, no second span, no raw logs.

The SDK TracerProvider is built locally (never installed globally): a tracer
from it starts spans in the shared OpenTelemetry context, which is all that
meshsec reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import baggage as otel_baggage
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from meshsec.correlation import (
    CorrelationConfig,
    current,
    extract,
    inject,
    peek,
    scope,
    to_otel_context,
)
from tests.correlation.conftest import SPAN_ID, TRACE_ID


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[trace.Tracer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("meshsec-tests")
    provider.shutdown()


def test_sdk_span_joins_the_incoming_trace(tracer: trace.Tracer, headers: dict[str, str]) -> None:
    with scope(headers), tracer.start_as_current_span("handler") as span:
        ids = span.get_span_context()
        assert trace.format_trace_id(ids.trace_id) == TRACE_ID
        assert span.parent is not None
        assert trace.format_span_id(span.parent.span_id) == SPAN_ID
        ctx = current()
        assert ctx.trace_id == TRACE_ID
        assert ctx.span_id == trace.format_span_id(ids.span_id)
        assert ctx.correlation_id == "req-42"
        out = inject()
        assert out["traceparent"] == f"00-{TRACE_ID}-{trace.format_span_id(ids.span_id)}-01"
        assert out["X-Correlation-ID"] == "req-42"
    # Outside the span, the bound context is the caller's position again.
    assert peek() is None


def test_inject_starts_no_span(
    tracer: trace.Tracer, exporter: InMemorySpanExporter, headers: dict[str, str]
) -> None:
    with scope(headers), tracer.start_as_current_span("client"):
        for _ in range(3):
            inject(destination="https://elsewhere.example/")
    assert [s.name for s in exporter.get_finished_spans()] == ["client"]


def test_an_instrumentation_server_span_is_kept(
    tracer: trace.Tracer, headers: dict[str, str]
) -> None:
    # An ASGI instrumentation already made a server span before meshsec runs.
    with tracer.start_as_current_span("server") as server, scope(headers):
        assert trace.get_current_span() is server
        ids = server.get_span_context()
        assert current().span_id == trace.format_span_id(ids.span_id)
        assert current().correlation_id == "req-42"


def test_otel_switch_off_keeps_otel_untouched(
    tracer: trace.Tracer, headers: dict[str, str]
) -> None:
    config = CorrelationConfig(otel=False)
    with scope(headers, config=config):
        assert not trace.get_current_span().get_span_context().is_valid
        with tracer.start_as_current_span("unrelated"):
            assert inject(config=config)["traceparent"] == f"00-{TRACE_ID}-{SPAN_ID}-01"


def test_scope_restores_the_otel_context(headers: dict[str, str]) -> None:
    before = trace.get_current_span()
    with scope(headers):
        remote = trace.get_current_span().get_span_context()
        assert remote.is_remote
        assert trace.format_trace_id(remote.trace_id) == TRACE_ID
    assert trace.get_current_span() is before


def test_scope_hands_otel_neither_baggage_nor_tracestate(headers: dict[str, str]) -> None:
    # OpenTelemetry instrumentations inject to every destination; giving them
    # baggage or tracestate would bypass the propagation boundary.
    with scope(headers):
        assert otel_baggage.get_all() == {}
        assert not trace.get_current_span().get_span_context().trace_state


def test_to_otel_context_carries_baggage_on_request(headers: dict[str, str]) -> None:
    ctx = extract(headers)
    with_baggage = to_otel_context(ctx, baggage=True)
    assert otel_baggage.get_all(with_baggage) == dict(ctx.baggage)
    assert otel_baggage.get_all(to_otel_context(ctx)) == {}
    span = trace.get_current_span(with_baggage).get_span_context()
    assert trace.format_span_id(span.span_id) == SPAN_ID


def test_global_propagator_is_never_replaced(headers: dict[str, str]) -> None:
    before = propagate.get_global_textmap()
    with scope(headers):
        inject()
        to_otel_context(baggage=True)
    assert propagate.get_global_textmap() is before


HOSTILE = {
    "X-Correlation-ID": "x\r\n\x1b[31mHOSTILE",
    "traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01",
    "tracestate": "rojo=1,HOSTILE\r\n=1",
    "baggage": "ok=1,HOSTILE\r\nbad,k=HOSTILE\x00" + ",x=1" * 200 + ",big=" + "v" * 9000,
}


def test_otel_parsers_never_log_raw_hostile_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Control: OpenTelemetry's own parser logs such values raw (the reason
    # meshsec validates before handing anything over).
    W3CBaggagePropagator().extract({"baggage": "ok=1,HOSTILE\r\nbad"})
    assert any("HOSTILE" in r.getMessage() for r in caplog.records)
    caplog.clear()

    ctx = extract(HOSTILE)
    with scope(HOSTILE):
        inject(destination="https://x.example/")
    to_otel_context(ctx, baggage=True)
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]
    assert not [r for r in caplog.records if "HOSTILE" in r.getMessage()]


def test_scope_keeps_other_otel_context_values(headers: dict[str, str]) -> None:
    from opentelemetry import context as otel_context

    key = otel_context.create_key("app-key")
    token = otel_context.attach(otel_context.set_value(key, "kept"))
    try:
        with scope(headers):
            assert otel_context.get_value(key) == "kept"
            assert trace.get_current_span().get_span_context().is_remote
    finally:
        otel_context.detach(token)
