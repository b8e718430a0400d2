"""Audit events as JSON log records on the ``meshsec.audit`` logger."""

from __future__ import annotations

import logging

from meshsec.audit._event import SecurityEvent


class LoggingSink:
    """Log each event as one JSON object (the record's message) on ``meshsec.audit``.

    The event itself is attached as ``record.audit_event`` for handlers that
    format structured logs themselves (``record.audit_event.to_dict()``).
    Values are already escaped, and the JSON is pure ASCII, so a message
    never carries a raw CR, LF or ESC. meshsec adds no handler: route
    ``meshsec.audit`` where you want it.

    A configured sink means the application wants its events: they reach the
    handlers even while ``meshsec.audit`` only inherits the root logger's
    default WARNING level (handler levels still apply). Set a level on the
    ``meshsec.audit`` logger itself to silence them.
    """

    __slots__ = ("_level", "_logger")

    def __init__(self, *, logger: str = "meshsec.audit", level: int = logging.INFO) -> None:
        self._logger = logging.getLogger(logger)
        self._level = level

    def emit(self, event: SecurityEvent) -> None:
        logger = self._logger
        if logger.disabled:
            return
        if logger.level != logging.NOTSET and not logger.isEnabledFor(self._level):
            return
        record = logger.makeRecord(
            logger.name,
            self._level,
            __file__,
            0,
            "%s",
            (event.to_json(),),
            None,
            extra={"audit_event": event},
        )
        logger.handle(record)  # skips only the inherited-level check; filters still run

    def __repr__(self) -> str:
        level = logging.getLevelName(self._level)
        return f"LoggingSink(logger={self._logger.name!r}, level={level!r})"
