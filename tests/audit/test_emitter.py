"""The emitter: configuration, capture, failing sinks, and the OTel sink."""

from __future__ import annotations

import contextvars
import logging
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from meshsec import audit
from meshsec.audit import OTelSink, SecurityEvent
from tests.audit.conftest import login


class Collect:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []

    def emit(self, event: SecurityEvent) -> None:
        self.events.append(event)


class Exploding:
    def emit(self, event: SecurityEvent) -> None:
        raise RuntimeError(f"disk on fire while writing {event.actor}")


def test_record_builds_nothing_without_a_sink():
    assert not audit.enabled()
    # An invalid category would raise if an event were built.
    audit.record("no-such-category", "x", "no-such-outcome")
    audit.emit(login(1))


def test_configure_swaps_and_returns_previous():
    first, second = Collect(), Collect()
    assert audit.configure(first) == ()
    assert audit.enabled()
    assert audit.configure(second) == (first,)
    audit.record("key", "rotate", "success", attributes={"kid": "k2"})
    assert audit.configure() == (second,)
    assert not audit.enabled()
    assert first.events == []
    assert second.events[0].attributes == {"kid": "k2"}


def test_configure_rejects_non_sinks():
    with pytest.raises(TypeError):
        audit.configure(object())  # type: ignore[arg-type]
    assert not audit.enabled()


def test_record_returns_nothing_and_fills_fields():
    with audit.capture() as events:
        assert audit.record("token", "verify", "failure", reason="token.expired") is None
    (event,) = events
    assert event.category is audit.Category.TOKEN
    assert event.outcome is audit.Outcome.FAILURE
    assert event.reason == "token.expired"


def test_capture_sees_events_from_other_threads_and_keeps_other_sinks():
    other = Collect()
    audit.configure(other)

    def serve(i: int) -> None:
        audit.record("authorization", "decide", "denied", actor=f"client-{i}")

    with audit.capture() as events:
        threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    audit.record("authorization", "decide", "denied", actor="after")
    assert sorted(e.actor for e in events) == sorted(f"client-{i}" for i in range(8))
    assert len(other.events) == 9
    assert audit.configure() == (other,)


def test_nested_captures():
    with audit.capture() as outer:
        audit.record("key", "load", "success")
        with audit.capture() as inner:
            audit.record("key", "load", "failure")
    assert [e.outcome.value for e in outer] == ["success", "failure"]
    assert [e.outcome.value for e in inner] == ["failure"]
    assert not audit.enabled()


def test_raising_sink_does_not_break_the_caller_and_is_logged_once(caplog):
    bad, good = Exploding(), Collect()
    audit.configure(bad, good)
    before = audit.dropped_count()
    with caplog.at_level(logging.ERROR, logger="meshsec.audit"):
        for i in range(3):
            audit.record("authentication", "login", "success", actor=f"marker-actor-{i}")
        audit.emit(login(99))
    assert len(good.events) == 4
    assert audit.dropped_count(bad) == 4
    assert audit.dropped_count(good) == 0
    assert audit.dropped_count() == before + 4
    records = [r for r in caplog.records if r.name == "meshsec.audit"]
    assert len(records) == 1
    text = records[0].getMessage()
    assert "Exploding" in text
    assert "RuntimeError" in text
    assert "marker-actor" not in text
    assert "disk on fire" not in text
    assert records[0].exc_info is None


def test_a_second_failing_sink_is_logged_too(caplog):
    first, second = Exploding(), Exploding()
    audit.configure(first, second)
    with caplog.at_level(logging.ERROR, logger="meshsec.audit"):
        audit.record("key", "load", "failure")
        audit.record("key", "load", "failure")
    assert len([r for r in caplog.records if r.name == "meshsec.audit"]) == 2


def test_base_exceptions_are_not_swallowed():
    class Interrupting:
        def emit(self, event: SecurityEvent) -> None:
            raise KeyboardInterrupt

    audit.configure(Interrupting())
    with pytest.raises(KeyboardInterrupt):
        audit.record("key", "load", "success")


@pytest.fixture
def tracer():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def test_otel_sink_adds_a_span_event(tracer):
    tracer, exporter = tracer
    audit.configure(OTelSink())
    with tracer.start_as_current_span("request"):
        audit.record(
            "token",
            "verify",
            "failure",
            actor="spiffe://example.org/web",
            reason="token.expired",
            attributes={"kid": "k1", "password": "x", "none": None},
        )
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert event.name == "meshsec.token.verify"
    attrs = dict(event.attributes or {})
    assert attrs["meshsec.outcome"] == "failure"
    assert attrs["meshsec.reason"] == "token.expired"
    assert attrs["meshsec.attributes.kid"] == "k1"
    assert attrs["meshsec.attributes.password"] == "[REDACTED]"
    assert "meshsec.attributes.none" not in attrs
    assert attrs["ocsf.class_uid"] == 3002


def test_otel_sink_is_a_no_op_outside_a_span():
    audit.configure(OTelSink())
    contextvars.copy_context().run(audit.record, "key", "load", "success")
    assert audit.dropped_count(audit.configure()[0]) == 0
