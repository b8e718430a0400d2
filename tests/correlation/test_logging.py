"""CorrelationFilter and JsonFormatter: IDs on every record, no log injection."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from meshsec.correlation import CorrelationFilter, JsonFormatter, peek, scope
from tests.correlation.conftest import SPAN_ID, TRACE_ID

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.correlation.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_filter_adds_ids_from_the_scope(headers: dict[str, str]) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with scope(headers):
        assert CorrelationFilter().filter(record)
    assert record.correlation_id == "req-42"  # type: ignore[attr-defined]
    assert record.trace_id == TRACE_ID  # type: ignore[attr-defined]
    assert record.span_id == SPAN_ID  # type: ignore[attr-defined]


def test_filter_outside_a_scope_uses_placeholders_and_creates_nothing() -> None:
    def run() -> None:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        CorrelationFilter().filter(record)
        assert record.correlation_id == "-"  # type: ignore[attr-defined]
        assert peek() is None

    contextvars.copy_context().run(run)


def test_filter_uses_the_active_sdk_span(headers: dict[str, str]) -> None:
    provider = TracerProvider()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with scope(headers), provider.get_tracer("t").start_as_current_span("s") as span:
        CorrelationFilter().filter(record)
    provider.shutdown()
    assert record.span_id == trace.format_span_id(span.get_span_context().span_id)  # type: ignore[attr-defined]
    assert record.trace_id == TRACE_ID  # type: ignore[attr-defined]


def test_json_line_has_the_documented_fields(
    log: tuple[logging.Logger, io.StringIO], headers: dict[str, str]
) -> None:
    logger, stream = log
    with scope(headers):
        logger.warning("user %s logged in", "alice")
    (entry,) = lines(stream)
    assert RFC3339_UTC.fullmatch(str(entry["time"]))
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.correlation.json"
    assert entry["message"] == "user alice logged in"
    assert entry["correlation_id"] == "req-42"
    assert entry["trace_id"] == TRACE_ID
    assert entry["span_id"] == SPAN_ID


def test_json_outside_a_scope_has_null_ids(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    contextvars.copy_context().run(logger.info, "plain")
    (entry,) = lines(stream)
    assert entry["correlation_id"] is None


def test_log_injection_with_crlf_is_escaped(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    forged = 'ok\r\n{"level":"CRITICAL","message":"forged"}'
    logger.info("path=%s", forged)
    raw = stream.getvalue()
    assert raw.count("\n") == 1
    assert "\r" not in raw
    (entry,) = lines(stream)
    assert entry["message"] == f"path={forged}"


def test_ansi_escapes_are_stripped(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.info("a\x1b[31mred\x1b[0m \x1b]0;title\x07b \x9b2Jc")
    assert "\\u001b" not in stream.getvalue()
    (entry,) = lines(stream)
    assert entry["message"] == "ared b c"


def test_exception_text_is_included(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log

    def fail() -> None:
        raise ValueError("bad\x1b[2J thing")

    try:
        fail()
    except ValueError:
        logger.exception("failed")
    (entry,) = lines(stream)
    assert "ValueError: bad thing" in str(entry["exception"])
    assert stream.getvalue().count("\n") == 1


@given(message=st.text(max_size=200))
def test_any_message_is_one_line_of_ascii(message: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (message,), None)
    line = JsonFormatter().format(record)
    assert re.fullmatch(r"[\x20-\x7e]+", line)
    assert "\x1b" not in json.loads(line)["message"]
