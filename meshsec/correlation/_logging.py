"""Correlation fields on log records and a JSON formatter safe against log injection.

meshsec configures no handler anywhere; services that want these attach them
to their own handlers.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from typing import Any

from meshsec.correlation._context import peek, with_active_span
from meshsec.correlation._otel import active_span_ids

# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST),
# 8-bit CSI, and two-character ESC sequences. Terminals that render log files
# would otherwise let a hostile message repaint or hide lines.
_ANSI_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x1b[@-Z\\-_]"
)


class _Absent(str):
    """The "-" placeholder for a missing ID, told apart from a peer's own "-" ID."""

    __slots__ = ()


# "-" is a valid correlation ID too: a client sending "X-Correlation-ID: -"
# must not make its requests' JSON lines read "no correlation" (null).
_NONE = _Absent("-")


# Whatever is left after removing whole sequences: ESC and the C1 controls,
# whose 8-bit forms (CSI, OSC, DCS, ST ...) some terminals still obey.
_STRAY_RE = re.compile(r"[\x1b\x80-\x9f]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences, and without any stray ESC or C1 control."""
    if _STRAY_RE.search(text) is None:
        return text
    return _STRAY_RE.sub("", _ANSI_RE.sub("", text))


def _fields() -> tuple[str, str, str]:
    ctx = peek()
    if ctx is not None:
        ctx = with_active_span(ctx)
        return ctx.correlation_id, ctx.trace_id, ctx.span_id
    span = active_span_ids()
    if span is not None:
        return _NONE, span[0], span[1]
    return _NONE, _NONE, _NONE


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id``, ``trace_id`` and ``span_id`` to every record.

    Values come from the bound correlation context (and the active
    OpenTelemetry span); ``-`` when there is none. It never creates a
    context. Every value is validated, so plain ``%(correlation_id)s``
    formats are injection-safe too. The filter never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id, record.trace_id, record.span_id = _fields()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339, UTC), level, logger, message, IDs, exception.

    ``json.dumps`` with ASCII output escapes CR, LF, every other control
    character and every non-ASCII character, and ANSI escape sequences are
    removed from the message and exception text, so a hostile value logged by
    any code cannot forge a line or repaint a terminal. Correlation fields
    come from the record (set by :class:`CorrelationFilter`) or, without the
    filter, from the current context; ``null`` when absent.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": strip_ansi(record.getMessage()),
        }
        fields = _fields()
        for index, name in enumerate(("correlation_id", "trace_id", "span_id")):
            value = getattr(record, name, fields[index])
            data[name] = None if value is _NONE else strip_ansi(str(value))
        if record.exc_info:
            data["exception"] = strip_ansi(self.formatException(record.exc_info))
        if record.stack_info:
            data["stack"] = strip_ansi(self.formatStack(record.stack_info))
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


def _rfc3339(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
