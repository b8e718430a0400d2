"""Security audit events: one structured, correlated record per decision.

Build events with :func:`record` (cheap no-op when no sink is configured) or
construct a :class:`SecurityEvent` and :func:`emit` it. Every value is
escaped against log injection and secret-looking values are redacted before
any sink sees them. Each event maps to an OCSF class (``to_dict()``).

Sinks: :class:`LoggingSink` (JSON on the ``meshsec.audit`` logger),
:class:`JsonlFileSink` (hash-chained, tamper-evident file checked by
:func:`verify_chain` and ``meshsec audit verify``) and :class:`OTelSink`
(span events). Nothing is configured at import time::

    from meshsec import audit

    previous = audit.configure(audit.LoggingSink())
    audit.record(audit.Category.TOKEN, "verify", audit.Outcome.FAILURE,
                 actor="spiffe://example.org/web", reason="token.expired")
"""

from meshsec.audit._chain import AuditKey
from meshsec.audit._emitter import (
    Sink,
    capture,
    configure,
    dropped_count,
    emit,
    enabled,
    record,
)
from meshsec.audit._errors import (
    AuditChainError,
    AuditError,
    AuditEventError,
    AuditFileError,
    AuditKeyError,
)
from meshsec.audit._event import Category, Outcome, SecurityEvent
from meshsec.audit._file_sink import JsonlFileSink
from meshsec.audit._logging_sink import LoggingSink
from meshsec.audit._otel_sink import OTelSink
from meshsec.audit._verify import PROBLEMS, ChainReport, verify_chain

__all__ = [
    "PROBLEMS",
    "AuditChainError",
    "AuditError",
    "AuditEventError",
    "AuditFileError",
    "AuditKey",
    "AuditKeyError",
    "Category",
    "ChainReport",
    "JsonlFileSink",
    "LoggingSink",
    "OTelSink",
    "Outcome",
    "SecurityEvent",
    "Sink",
    "capture",
    "configure",
    "dropped_count",
    "emit",
    "enabled",
    "record",
    "verify_chain",
]
