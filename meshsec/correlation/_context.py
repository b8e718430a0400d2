"""The correlation state of the running request, held in a ContextVar."""

from __future__ import annotations

import contextlib
import contextvars
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from meshsec.correlation._errors import CorrelationContextError
from meshsec.correlation._grammar import (
    BAGGAGE_KEY_RE,
    CORRELATION_ID_RE,
    KNOWN_FLAGS,
    SPAN_ID_RE,
    TRACE_ID_RE,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    encode_baggage,
    looks_secret,
    parse_tracestate,
)
from meshsec.correlation._otel import active_span_ids

_EMPTY: Mapping[str, str] = MappingProxyType({})
_REDACTED = "[REDACTED]"


def new_correlation_id() -> str:
    """A fresh random correlation ID (128 bits, hex)."""
    return secrets.token_hex(16)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def _freeze(value: Mapping[str, str]) -> Mapping[str, str]:
    frozen = dict(value)
    for key, item in frozen.items():
        if not isinstance(key, str) or BAGGAGE_KEY_RE.fullmatch(key) is None:
            raise CorrelationContextError("baggage keys must be HTTP tokens")
        if not isinstance(item, str):
            raise CorrelationContextError("baggage values must be strings")
    return MappingProxyType(frozen)


def _canonical_tracestate(value: str) -> str:
    canonical = parse_tracestate(value) if isinstance(value, str) else None
    if canonical is None:
        raise CorrelationContextError("tracestate must follow W3C Trace Context 3.3")
    return canonical


_ID_RULES = {
    "correlation_id": (CORRELATION_ID_RE, None),
    "trace_id": (TRACE_ID_RE, ZERO_TRACE_ID),
    "span_id": (SPAN_ID_RE, ZERO_SPAN_ID),
}


def _check_id(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    pattern, zero = _ID_RULES[attribute.name]
    if not isinstance(value, str) or pattern.fullmatch(value) is None or value == zero:
        # The value itself stays out of the message: it may be hostile.
        raise CorrelationContextError(f"{attribute.name} has an invalid form")


def _check_flags(_: object, __: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise CorrelationContextError("trace_flags must be an int from 0 to 255")


def _reasons(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(reason) for reason in value)


# A JWS/JWE compact serialization (base64url JSON header "eyJ" and a further
# segment) or a PEM private key: bearer credentials under a harmless key.
_SECRET_VALUE_RE = re.compile(r"eyJ[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+|PRIVATE\s*KEY", re.IGNORECASE)


def _baggage_repr(value: Mapping[str, str]) -> str:
    # Values under secret-looking keys, and values that are tokens or keys
    # themselves, never reach a repr (or a log line built from one).
    shown = {
        k: (_REDACTED if looks_secret(k) or _SECRET_VALUE_RE.search(v) else v)
        for k, v in value.items()
    }
    return repr(shown)


@attrs.frozen(kw_only=True)
class CorrelationContext:
    """Who-called-whom identifiers for one request. Values are validated.

    ``correlation_id`` follows the request across every hop; ``trace_id`` and
    ``span_id`` are the W3C trace context (lowercase hex) of the current span
    (after :func:`extract` without an OpenTelemetry SDK, the caller's span,
    forwarded unchanged as the OpenTelemetry API does); ``tracestate`` is the
    validated W3C tracestate header value (may be empty); ``baggage`` holds
    decoded W3C baggage entries; ``rejected`` lists the
    :class:`~meshsec.correlation.Rejection` codes of incoming values that were
    replaced or dropped (the integrations turn them into audit events).

    Raises :class:`CorrelationContextError` when built with a value that
    could not be propagated safely.
    """

    correlation_id: str = attrs.field(factory=new_correlation_id, validator=_check_id)
    trace_id: str = attrs.field(factory=new_trace_id, validator=_check_id)
    span_id: str = attrs.field(factory=new_span_id, validator=_check_id)
    trace_flags: int = attrs.field(default=0, validator=_check_flags)
    tracestate: str = attrs.field(default="", converter=_canonical_tracestate)
    baggage: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_freeze, repr=_baggage_repr)
    #: True when the IDs came from the caller's headers rather than being generated.
    remote: bool = False
    rejected: tuple[str, ...] = attrs.field(default=(), converter=_reasons)
    # Outgoing baggage header, filled by extract() or on first inject().
    _baggage_header: str | None = attrs.field(default=None, init=False, repr=False, eq=False)

    @classmethod
    def _trusted(cls, **values: Any) -> CorrelationContext:
        """Build from values extract() already validated, skipping re-validation.

        The hot path of every request: validators and converters would check
        each value a second time.
        """
        ctx = object.__new__(cls)
        for name in _FIELDS:
            object.__setattr__(ctx, name, values[name])
        object.__setattr__(ctx, "_baggage_header", values.get("_baggage_header"))
        return ctx

    def baggage_header(self) -> str:
        """The outgoing ``baggage`` header value ('' for none); computed once."""
        header = self._baggage_header
        if header is None:
            header = encode_baggage(self.baggage)
            object.__setattr__(self, "_baggage_header", header)
        return header

    @classmethod
    def new(cls) -> CorrelationContext:
        """A fresh root context: new correlation ID, new trace."""
        return cls()

    @property
    def sampled(self) -> bool:
        return bool(self.trace_flags & 0x01)

    @property
    def traceparent(self) -> str:
        """The version-00 traceparent header value (only defined flags kept)."""
        return f"00-{self.trace_id}-{self.span_id}-{self.trace_flags & KNOWN_FLAGS:02x}"

    def evolve(self, **changes: Any) -> CorrelationContext:
        return attrs.evolve(self, **changes)


_FIELDS = (
    "correlation_id",
    "trace_id",
    "span_id",
    "trace_flags",
    "tracestate",
    "baggage",
    "remote",
    "rejected",
)

_current: contextvars.ContextVar[CorrelationContext | None] = contextvars.ContextVar(
    "meshsec_correlation", default=None
)


def with_active_span(ctx: CorrelationContext) -> CorrelationContext:
    """``ctx`` with the IDs of the active OpenTelemetry span, when there is one.

    An SDK span started inside the request is the real current span, so its
    IDs win; the correlation ID and baggage stay. The tracestate stays while
    the span belongs to the same trace, else it is the span's own.
    """
    span = active_span_ids()
    if span is None:
        return ctx
    trace_id, span_id, flags, state = span
    if trace_id == ctx.trace_id and span_id == ctx.span_id and flags == ctx.trace_flags:
        return ctx
    tracestate = ctx.tracestate if trace_id == ctx.trace_id else parse_tracestate(state) or ""
    # Not attrs.evolve: this runs on every current() while a span is active.
    return CorrelationContext._trusted(
        correlation_id=ctx.correlation_id,
        trace_id=trace_id,
        span_id=span_id,
        trace_flags=flags,
        tracestate=tracestate,
        baggage=ctx.baggage,
        remote=ctx.remote,
        rejected=ctx.rejected,
        _baggage_header=ctx._baggage_header,
    )


def current() -> CorrelationContext:
    """The correlation context of the running request.

    Outside any :func:`scope` a fresh root context is created and bound to the
    current execution context, so repeated calls agree with each other. When
    an OpenTelemetry span is active, its trace and span IDs are the ones
    returned.
    """
    return with_active_span(bound_or_new())


def bound_or_new() -> CorrelationContext:
    """The bound context; a fresh root one, bound now, when there is none."""
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
