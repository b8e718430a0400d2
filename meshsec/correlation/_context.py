"""The correlation state of the running request, held in a ContextVar."""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

_EMPTY: Mapping[str, str] = MappingProxyType({})


def new_correlation_id() -> str:
    """A fresh random correlation ID (128 bits, hex)."""
    return secrets.token_hex(16)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def _freeze(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class CorrelationContext:
    """Who-called-whom identifiers for one request. Values are already validated.

    ``correlation_id`` follows the request across every hop; ``trace_id`` and
    ``span_id`` are the W3C trace context (lowercase hex) of the current span;
    ``tracestate`` is the validated W3C tracestate header value (may be
    empty); ``baggage`` holds validated W3C baggage entries.
    """

    correlation_id: str = attrs.field(factory=new_correlation_id)
    trace_id: str = attrs.field(factory=new_trace_id)
    span_id: str = attrs.field(factory=new_span_id)
    trace_flags: int = 0
    tracestate: str = ""
    baggage: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_freeze)
    #: True when the IDs came from the caller's headers rather than being generated.
    remote: bool = False

    @classmethod
    def new(cls) -> CorrelationContext:
        """A fresh root context: new correlation ID, new trace."""
        return cls()

    @property
    def sampled(self) -> bool:
        return bool(self.trace_flags & 0x01)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.trace_flags:02x}"

    def evolve(self, **changes: Any) -> CorrelationContext:
        return attrs.evolve(self, **changes)


_current: contextvars.ContextVar[CorrelationContext | None] = contextvars.ContextVar(
    "meshsec_correlation", default=None
)


def current() -> CorrelationContext:
    """The correlation context of the running request.

    Outside any :func:`scope` a fresh root context is created and bound to the
    current execution context, so repeated calls agree with each other.
    """
    ctx = _current.get()
    if ctx is None:
        ctx = CorrelationContext.new()
        _current.set(ctx)
    return ctx


def current_id() -> str:
    """The correlation ID of the running request."""
    return current().correlation_id


def peek() -> CorrelationContext | None:
    """The bound correlation context, or None, without creating one."""
    return _current.get()


@contextlib.contextmanager
def bind(ctx: CorrelationContext) -> Iterator[CorrelationContext]:
    """Make ``ctx`` current for the duration of the block (token-based reset)."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
