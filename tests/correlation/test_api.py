"""The public surface of meshsec.correlation and secrecy of its reprs."""

from __future__ import annotations

import logging

import pytest

import meshsec
import meshsec.correlation as correlation
from meshsec.correlation import (
    CorrelationConfig,
    CorrelationConfigError,
    CorrelationContext,
    CorrelationContextError,
    PropagationBoundary,
    extract,
)
from meshsec.errors import ConfigError
from tests.api import assert_all_is_public, assert_raised_errors_exported


def test_all_is_public() -> None:
    assert_all_is_public(correlation)


def test_raised_errors_are_exported() -> None:
    assert_raised_errors_exported(correlation)


def test_errors_have_stable_codes_and_bases() -> None:
    assert CorrelationConfigError.code == "correlation.invalid_config"
    assert CorrelationContextError.code == "correlation.invalid_context"
    assert issubclass(CorrelationConfigError, ConfigError)
    assert issubclass(CorrelationContextError, ValueError)


def test_library_adds_only_a_null_handler() -> None:
    handlers = logging.getLogger("meshsec").handlers
    assert meshsec.__version__
    assert handlers
    assert all(isinstance(h, logging.NullHandler) for h in handlers)


def test_secret_baggage_values_never_in_repr() -> None:
    ctx = CorrelationContext(
        baggage={"api_key": "sk-live-123", "Session": "s3cr3t", "tenant": "acme"}
    )
    text = repr(ctx)
    assert "sk-live-123" not in text
    assert "s3cr3t" not in text
    assert "[REDACTED]" in text
    assert "acme" in text  # ordinary entries stay visible for debugging


@pytest.mark.parametrize(
    "changes",
    [
        {"correlation_id": "bad\r\nid"},
        {"correlation_id": ""},
        {"correlation_id": "x" * 129},
        {"trace_id": "0" * 32},
        {"trace_id": "ABCDEF" + "0" * 26},
        {"span_id": "0" * 16},
        {"span_id": "abc"},
        {"trace_flags": 256},
        {"tracestate": "Bad=1"},
        {"baggage": {"bad key": "v"}},
        {"baggage": {"k": 1}},
    ],
)
def test_context_rejects_values_that_cannot_be_propagated(changes: dict[str, object]) -> None:
    with pytest.raises(CorrelationContextError) as info:
        CorrelationContext(**changes)  # type: ignore[arg-type]
    for value in changes.values():
        if isinstance(value, str) and value:
            assert value not in str(info.value)  # hostile value not echoed


def test_evolve_validates_too() -> None:
    with pytest.raises(CorrelationContextError):
        CorrelationContext().evolve(correlation_id="a\nb")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id_header": "X Bad"},
        {"id_header": "X-Id\r\n"},
        {"traceparent_header": ""},
        {"id_aliases": ("traceparent",)},
        {"baggage_header": "X-Correlation-ID"},
        {"boundary": "everything"},
    ],
)
def test_config_rejects_bad_names(kwargs: dict[str, object]) -> None:
    with pytest.raises(CorrelationConfigError):
        CorrelationConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hosts": ("*",)},
        {"hosts": ("evil.com/",)},
        {"hosts": ("a*.example",)},
        {"hosts": ("*.*.example",)},
        {"hosts": ("user@host",)},
        {"trust_domains": ("example.org/path",)},
        {"trust_domains": ("",)},
    ],
)
def test_boundary_rejects_bad_patterns(kwargs: dict[str, object]) -> None:
    with pytest.raises(CorrelationConfigError):
        PropagationBoundary(**kwargs)  # type: ignore[arg-type]


def test_extract_never_raises_for_non_text_values() -> None:
    ctx = extract({"X-Correlation-ID": 12, "traceparent": object(), b"baggage": b"\xff"})
    assert ctx.correlation_id != "12"
    assert "correlation.invalid_id" in ctx.rejected
    assert "correlation.invalid_traceparent" in ctx.rejected
