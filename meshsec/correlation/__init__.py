"""Correlation: one ID, one trace and the baggage of the running request.

The state lives in a :class:`contextvars.ContextVar`, so it follows threads
started with ``contextvars.copy_context()`` and asyncio tasks, and each
request sees only its own.
"""

from meshsec.correlation._context import (
    CorrelationContext,
    current,
    current_id,
    peek,
)

__all__ = ["CorrelationContext", "current", "current_id", "peek"]
