"""Header names, the propagation boundary and the OpenTelemetry switch."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from meshsec.correlation._boundary import PropagationBoundary
from meshsec.correlation._errors import CorrelationConfigError

# RFC 9110 section 5.1: a field name is a token.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")

# Slots of the lookup table: which header an incoming name feeds.
ID, ID_ALIAS, TRACEPARENT, TRACESTATE, BAGGAGE = range(5)


def _header_name(value: str) -> str:
    if not isinstance(value, str) or _TOKEN_RE.fullmatch(value) is None:
        raise CorrelationConfigError("a header name must be an HTTP token of 1-64 characters")
    return value


def _header_names(value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes | bytearray) or not hasattr(value, "__iter__"):
        # One string is iterable: "X-Request-ID" would become "X", "-", "R", ...
        raise CorrelationConfigError("id_aliases must be a tuple or list of header names")
    return tuple(_header_name(v) for v in value)


@attrs.frozen(kw_only=True)
class CorrelationConfig:
    """How correlation travels: header names, the boundary, OpenTelemetry interplay.

    ``id_header`` is read and written; ``id_aliases`` are only read (a caller
    that sends ``X-Request-ID`` still gets correlated). All names match
    case-insensitively on input. ``boundary`` decides which destinations get
    ``baggage`` and ``tracestate``. With ``otel`` on (the default) the active
    OpenTelemetry span, when there is one, supplies the trace and span IDs,
    and :func:`~meshsec.correlation.scope` makes the incoming trace the
    OpenTelemetry parent so SDK spans join it.

    Raises :class:`CorrelationConfigError` for a name that is not an HTTP
    token or for two roles sharing one name.
    """

    id_header: str = attrs.field(default="X-Correlation-ID", converter=_header_name)
    id_aliases: tuple[str, ...] = attrs.field(default=("X-Request-ID",), converter=_header_names)
    traceparent_header: str = attrs.field(default="traceparent", converter=_header_name)
    tracestate_header: str = attrs.field(default="tracestate", converter=_header_name)
    baggage_header: str = attrs.field(default="baggage", converter=_header_name)
    boundary: PropagationBoundary = attrs.field(factory=PropagationBoundary)
    otel: bool = True
    _lookup: Mapping[str, int] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.boundary, PropagationBoundary):
            raise CorrelationConfigError("boundary must be a PropagationBoundary")
        roles = [
            (self.id_header, ID),
            *((alias, ID_ALIAS) for alias in self.id_aliases),
            (self.traceparent_header, TRACEPARENT),
            (self.tracestate_header, TRACESTATE),
            (self.baggage_header, BAGGAGE),
        ]
        lookup = {name.lower(): role for name, role in roles}
        if len(lookup) != len(roles):
            raise CorrelationConfigError("each correlation header needs its own name")
        object.__setattr__(self, "_lookup", lookup)

    @property
    def outgoing_names(self) -> tuple[str, str, str, str]:
        """The four names inject() writes, in order: ID, traceparent, tracestate, baggage."""
        return (
            self.id_header,
            self.traceparent_header,
            self.tracestate_header,
            self.baggage_header,
        )


DEFAULT_CONFIG = CorrelationConfig()
