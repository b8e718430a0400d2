"""The one place that asks OpenTelemetry which span is active.

meshsec never starts a span and never touches the global propagator: it only
reads the active span's IDs so that log lines, audit events and outgoing
headers carry the IDs of the real span an SDK created.
"""

from __future__ import annotations

from opentelemetry import trace

from meshsec.correlation._grammar import KNOWN_FLAGS


def active_span_ids() -> tuple[str, str, int, str] | None:
    """(trace_id, span_id, flags, tracestate) of the active local span, else None.

    Without an SDK the active span is the invalid placeholder, or a remote
    parent that a propagator (meshsec's scope or an instrumentation)
    attached; a remote parent is the caller's position, which the bound
    correlation context already holds, so only local spans count.
    """
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid or span_context.is_remote:
        return None
    state = span_context.trace_state
    return (
        trace.format_trace_id(span_context.trace_id),
        trace.format_span_id(span_context.span_id),
        int(span_context.trace_flags) & KNOWN_FLAGS,
        state.to_header() if state else "",
    )
