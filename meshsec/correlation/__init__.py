"""Correlation: one ID, one trace and the baggage of the running request.

The state lives in a :class:`contextvars.ContextVar`, so it follows threads
started with ``contextvars.copy_context()`` and asyncio tasks, and each
request sees only its own. :func:`extract` reads it from incoming headers
(validating every value: hostile input is replaced, never propagated),
:func:`scope` makes it current for a block, :func:`inject` writes it to
outgoing headers, sending baggage and tracestate only inside a
:class:`PropagationBoundary`. See ``docs/correlation.md``.
"""

from meshsec.correlation._boundary import PropagationBoundary
from meshsec.correlation._config import CorrelationConfig
from meshsec.correlation._context import (
    CorrelationContext,
    bind,
    current,
    current_id,
    peek,
)
from meshsec.correlation._errors import CorrelationConfigError, CorrelationContextError
from meshsec.correlation._logging import CorrelationFilter, JsonFormatter
from meshsec.correlation._propagation import extract, inject, scope, to_otel_context
from meshsec.correlation._rejections import Rejection, rejection_counts

__all__ = [
    "CorrelationConfig",
    "CorrelationConfigError",
    "CorrelationContext",
    "CorrelationContextError",
    "CorrelationFilter",
    "JsonFormatter",
    "PropagationBoundary",
    "Rejection",
    "bind",
    "current",
    "current_id",
    "extract",
    "inject",
    "peek",
    "rejection_counts",
    "scope",
    "to_otel_context",
]
