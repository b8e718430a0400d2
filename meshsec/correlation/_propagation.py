"""extract(), inject() and scope(): correlation across a process boundary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from opentelemetry import context as otel
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from meshsec._binding import ScopedBinding
from meshsec.correlation import _config as roles
from meshsec.correlation._config import DEFAULT_CONFIG, CorrelationConfig
from meshsec.correlation._context import (
    CorrelationContext,
    _current,
    bound_or_new,
    new_correlation_id,
    new_span_id,
    new_trace_id,
    with_active_span,
)
from meshsec.correlation._grammar import (
    parse_baggage,
    parse_traceparent,
    parse_tracestate,
    valid_correlation_id,
)
from meshsec.correlation._otel import active_span_ids
from meshsec.correlation._rejections import Rejection, count

H = TypeVar("H", bound=MutableMapping[str, str])

_OWS = " \t"
_binding: ScopedBinding[CorrelationContext | None] = ScopedBinding(_current, default=None)
_TRACE_PROPAGATOR = TraceContextTextMapPropagator()
_BAGGAGE_PROPAGATOR = W3CBaggagePropagator()


def _text(value: object) -> str | None:
    """A header value as text; None when it is not text (counts as hostile)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        # Several field lines of one header (RFC 9110 section 5.3).
        return ",".join(value)
    return None


def _pairs(headers: object) -> Iterable[tuple[Any, Any]]:
    """(name, value) pairs of a mapping, a message object or a raw header list.

    Raw lists of pairs are what ASGI (``scope["headers"]``) and WSGI
    (``start_response``) carry; anything else yields nothing rather than
    raising, since headers come from the peer.
    """
    if headers is None:
        return ()
    items = getattr(headers, "items", None)
    if callable(items):
        return items()  # type: ignore[no-any-return]
    if isinstance(headers, list | tuple):
        return [(p[0], p[1]) for p in headers if isinstance(p, tuple | list) and len(p) == 2]
    return ()


def _collect(headers: object, lookup: Mapping[str, int]) -> list[list[str | None]]:
    found: list[list[str | None]] = [[], [], [], [], []]
    for name, value in _pairs(headers):
        if isinstance(name, bytes):
            name = name.decode("latin-1")  # noqa: PLW2901  header names arrive as str or bytes
        role = lookup.get(name.lower()) if isinstance(name, str) else None
        if role is not None:
            found[role].append(_text(value))
    return found


def _single(values: list[str | None], rejected: list[str]) -> str | None:
    """The one value of a single-valued header; conflicting duplicates are invalid."""
    if not values:
        return None
    first = values[0]
    if any(v != first for v in values[1:]):
        rejected.append(Rejection.DUPLICATE_HEADER)
        return None
    if first is None:
        return "\x00"  # undecodable: fails every validator below
    return first.strip(_OWS) or None


def _joined(values: list[str | None]) -> str | None:
    texts = [v if v is not None else "\x00" for v in values]
    return ",".join(texts) if texts else None


def _correlation_id(found: list[list[str | None]], rejected: list[str]) -> str:
    value = _single(found[roles.ID] or found[roles.ID_ALIAS], rejected)
    if value is None:
        return new_correlation_id()
    if valid_correlation_id(value):
        return value
    rejected.append(Rejection.INVALID_ID)
    return new_correlation_id()


def extract(
    headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None,
    *,
    config: CorrelationConfig | None = None,
) -> CorrelationContext:
    """The correlation context carried by incoming ``headers``.

    ``headers`` is a mapping (or any object with ``items()``, such as
    ``http.server``'s message), a raw list of ``(name, value)`` pairs as ASGI
    and WSGI carry them, or None for no headers. Header names match
    case-insensitively; values may be ``str``, ASCII ``bytes`` or a list of
    field lines. Never raises for hostile input:

    - a correlation ID outside ``[A-Za-z0-9._:-]{1,128}`` is replaced by a
      fresh one (``X-Request-ID`` is read when ``X-Correlation-ID`` is absent);
    - an invalid traceparent (W3C Trace Context section 4.3) starts a new
      trace, and then tracestate is ignored;
    - an invalid tracestate is dropped whole;
    - malformed, excess (over 180 entries or 8192 bytes) and secret-looking
      baggage entries are dropped.

    Each replacement or drop adds a :class:`Rejection` code to the returned
    context's ``rejected`` and to :func:`rejection_counts`.
    """
    cfg = config if config is not None else DEFAULT_CONFIG
    found = _collect(headers, cfg._lookup)
    rejected: list[str] = []
    correlation_id = _correlation_id(found, rejected)
    tracestate, parsed = "", None
    traceparent = _single(found[roles.TRACEPARENT], rejected)
    if traceparent is not None:
        parsed = parse_traceparent(traceparent)
        if parsed is None:
            rejected.append(Rejection.INVALID_TRACEPARENT)
        else:
            tracestate = _tracestate(found[roles.TRACESTATE], rejected)
    baggage, baggage_header = _baggage(found[roles.BAGGAGE], rejected)
    if rejected:
        count(rejected)
    trace_id, span_id, flags = parsed or (new_trace_id(), new_span_id(), 0)
    return CorrelationContext._trusted(
        correlation_id=correlation_id,
        trace_id=trace_id,
        span_id=span_id,
        trace_flags=flags,
        tracestate=tracestate,
        baggage=MappingProxyType(baggage),
        remote=parsed is not None,
        rejected=tuple(str(reason) for reason in rejected),
        _baggage_header=baggage_header,
    )


def _tracestate(values: list[str | None], rejected: list[str]) -> str:
    raw = _joined(values)
    if raw is None:
        return ""
    canonical = parse_tracestate(raw)
    if canonical is None:
        rejected.append(Rejection.INVALID_TRACESTATE)
        return ""
    return canonical


def _baggage(values: list[str | None], rejected: list[str]) -> tuple[dict[str, str], str | None]:
    raw = _joined(values)
    if raw is None:
        return {}, ""
    entries, header, dropped, secret = parse_baggage(raw)
    if dropped:
        rejected.append(Rejection.BAGGAGE_DROPPED)
    if secret:
        rejected.append(Rejection.BAGGAGE_SECRET_DROPPED)
    return entries, header


def inject(
    headers: H | None = None,
    *,
    destination: object = None,
    context: CorrelationContext | None = None,
    config: CorrelationConfig | None = None,
) -> H | dict[str, str]:
    """Write the correlation headers into ``headers`` (a new dict when None) and return it.

    The correlation ID and traceparent always go out. ``tracestate`` and
    ``baggage`` go out only when ``destination`` (a URL or SPIFFE ID) is
    inside ``config.boundary``; ``destination=None`` means inside (the caller
    vouches for where the headers go). Baggage entries whose keys look secret
    never go out. Any existing header with one of the four names, in any
    letter case, is replaced or removed, so forwarded incoming headers cannot
    smuggle baggage past the boundary.

    ``context`` defaults to the current one; with ``config.otel`` on, the IDs
    of the active OpenTelemetry span are used. No span is ever started here.
    Every value written is printable ASCII of bounded size.
    """
    cfg = config if config is not None else DEFAULT_CONFIG
    ctx = context
    if ctx is None:
        ctx = with_active_span(bound_or_new()) if cfg.otel else bound_or_new()
    out: Any = {} if headers is None else headers
    id_name, tp_name, ts_name, bag_name = cfg.outgoing_names
    _remove(out, (id_name.lower(), tp_name.lower(), ts_name.lower(), bag_name.lower()), cfg)
    out[id_name] = ctx.correlation_id
    out[tp_name] = ctx.traceparent
    if cfg.boundary.contains(destination):
        if ctx.tracestate:
            out[ts_name] = ctx.tracestate
        encoded = ctx.baggage_header()
        if encoded:
            out[bag_name] = encoded
    return out  # type: ignore[no-any-return]


def _remove(
    headers: MutableMapping[Any, Any], lowered: tuple[str, ...], cfg: CorrelationConfig
) -> None:
    # Names may be bytes (ASGI, forwarded raw headers), as extract() accepts:
    # a stale b"baggage" left behind would cross the boundary unchecked.
    # A forwarded alias (X-Request-ID) goes on only while it is a safe ID:
    # hostile input is never propagated raw, under any of the names read.
    stale = [
        k
        for k in headers
        if (name := _lowered_name(k)) in lowered
        or (cfg._lookup.get(name or "") == roles.ID_ALIAS and not _safe_id(headers[k]))
    ]
    for key in stale:
        del headers[key]


def _safe_id(value: object) -> bool:
    text = _text(value)
    return text is not None and valid_correlation_id(text)


def _lowered_name(name: object) -> str | None:
    if isinstance(name, bytes | bytearray):
        return bytes(name).decode("latin-1").lower()
    return name.lower() if isinstance(name, str) else None


def to_otel_context(
    context: CorrelationContext | None = None,
    *,
    baggage: bool = False,
    base: otel.Context | None = None,
) -> otel.Context:
    """An OpenTelemetry ``Context`` whose parent span is ``context``'s trace position.

    Built with OpenTelemetry's own propagators from the validated header
    values only, so its parsers never see (or log) hostile input. Baggage is
    included only on request: OpenTelemetry instrumentations inject it to
    every destination, outside meshsec's boundary. tracestate is left out for
    the same reason. The result extends ``base`` (default: an empty context).
    """
    ctx = context if context is not None else bound_or_new()
    carrier = {"traceparent": ctx.traceparent}
    result = _TRACE_PROPAGATOR.extract(
        carrier, context=base if base is not None else otel.Context()
    )
    if baggage and ctx.baggage:
        carrier = {"baggage": ctx.baggage_header()}
        result = _BAGGAGE_PROPAGATOR.extract(carrier, context=result)
    return result


class scope:  # noqa: N801  used like a function: ``with scope(headers):``
    """Make a correlation context current for a ``with`` or ``async with`` block.

    ``headers_or_context`` is incoming headers (passed to :func:`extract`), a
    :class:`CorrelationContext`, or None for a fresh root context. The
    previous context is restored by token on exit, so scopes nest and
    concurrent asyncio tasks or threads each see their own.

    With ``config.otel`` on, no OpenTelemetry span active and a remote
    trace, the caller's span also becomes the OpenTelemetry parent for the
    block, so SDK spans started inside join the caller's trace.
    """

    def __init__(
        self,
        headers_or_context: Mapping[Any, Any]
        | Iterable[tuple[Any, Any]]
        | CorrelationContext
        | None = None,
        *,
        config: CorrelationConfig | None = None,
    ) -> None:
        self._source = headers_or_context
        self._config = config if config is not None else DEFAULT_CONFIG

    def _context(self) -> CorrelationContext:
        source = self._source
        if source is None:
            return CorrelationContext.new()
        if isinstance(source, CorrelationContext):
            return source
        return extract(source, config=self._config)

    def __enter__(self) -> CorrelationContext:
        ctx = self._context()
        otel_token = None
        if self._config.otel and ctx.remote and active_span_ids() is None:
            # Extend the current OpenTelemetry context: other keys it holds stay.
            otel_token = otel.attach(to_otel_context(ctx, base=otel.get_current()))
        _binding.push(self, ctx, otel_token)
        return ctx

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Entered in another execution context (a generator resumed by a
        # thread pool that copies the context for every step, then closed
        # elsewhere): what it bound lives there, so nothing here is undone.
        bound, otel_token = _binding.pop(self)
        if bound and otel_token is not None:
            otel.detach(otel_token)  # type: ignore[arg-type]

    async def __aenter__(self) -> CorrelationContext:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
