"""capture_audit: the audit events of a block, with assertions that read well.

A thin layer over :func:`meshsec.audit.capture` (structlog's ``capture_logs``
is the model): the events are the real, already redacted
:class:`~meshsec.audit.SecurityEvent` objects, never copies or mocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import overload

from meshsec import audit

__all__ = ["AuditLog", "capture_audit"]


def _value(value: object) -> object:
    """Enum members compare by their value, so ``"token"`` matches Category.TOKEN."""
    inner = getattr(value, "value", value)
    return inner.lower() if isinstance(inner, str) else inner


class AuditLog(Sequence[audit.SecurityEvent]):
    """A read-only, live view of the events captured so far (oldest first).

    Filters take ``category``, ``action``, ``outcome`` and ``reason``; a
    category or outcome may be given as the enum member or its value
    (``"token"``, ``"denied"``), case-insensitively.
    """

    __slots__ = ("_events",)

    def __init__(self, events: Sequence[audit.SecurityEvent] = ()) -> None:
        self._events = events

    @overload
    def __getitem__(self, index: int) -> audit.SecurityEvent: ...
    @overload
    def __getitem__(self, index: slice) -> AuditLog: ...
    def __getitem__(self, index: int | slice) -> audit.SecurityEvent | AuditLog:
        if isinstance(index, slice):
            return AuditLog(list(self._events[index]))
        return self._events[index]

    def __len__(self) -> int:
        return len(self._events)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a live view is not hashable

    def __repr__(self) -> str:
        return f"AuditLog({len(self)} events: {self._summary()})"

    @property
    def reasons(self) -> list[str]:
        """The reason codes of the events that carry one, in order."""
        return [e.reason for e in self if e.reason is not None]

    @property
    def actions(self) -> list[str]:
        """The actions of all events, in order."""
        return [e.action for e in self]

    def of(
        self,
        *,
        category: object = None,
        action: str | None = None,
        outcome: object = None,
        reason: str | None = None,
    ) -> AuditLog:
        """A new log holding only the events that match every filter given."""
        return AuditLog([e for e in self if _matches(e, category, action, outcome, reason)])

    def assert_emitted(
        self,
        *,
        category: object = None,
        action: str | None = None,
        outcome: object = None,
        reason: str | None = None,
        count: int | None = 1,
    ) -> AuditLog:
        """Assert that exactly ``count`` events match (``count=None``: at least one).

        The default of exactly one follows meshsec's rule of one event per
        decision, so a decision audited twice fails too. Returns the matches;
        raises AssertionError listing what was captured instead.
        """
        found = self.of(category=category, action=action, outcome=outcome, reason=reason)
        if (count is None and not found) or (count is not None and len(found) != count):
            filters = _describe(category=category, action=action, outcome=outcome, reason=reason)
            expected = "at least one" if count is None else str(count)
            raise AssertionError(
                f"expected {expected} audit event(s) with {filters}, found {len(found)}; "
                f"captured: {self._summary()}"
            )
        return found

    def assert_not_emitted(
        self,
        *,
        category: object = None,
        action: str | None = None,
        outcome: object = None,
        reason: str | None = None,
    ) -> None:
        """Assert that no event matches; raises AssertionError naming the ones that do."""
        self.assert_emitted(
            category=category, action=action, outcome=outcome, reason=reason, count=0
        )

    def _summary(self) -> str:
        if not self:
            return "nothing"
        return "; ".join(
            f"{_value(e.category)}/{e.action}/{_value(e.outcome)}"
            + (f" reason={e.reason}" if e.reason else "")
            for e in self
        )


def _matches(
    event: audit.SecurityEvent,
    category: object,
    action: str | None,
    outcome: object,
    reason: str | None,
) -> bool:
    return (
        (category is None or _value(event.category) == _value(category))
        and (outcome is None or _value(event.outcome) == _value(outcome))
        and (action is None or event.action == action)
        and (reason is None or event.reason == reason)
    )


def _describe(**filters: object) -> str:
    given = [f"{k}={_value(v)!r}" for k, v in filters.items() if v is not None]
    return ", ".join(given) or "any content"


@contextlib.contextmanager
def capture_audit() -> Iterator[AuditLog]:
    """Capture every audit event emitted while the block runs, from any thread.

    Yields an :class:`AuditLog` that fills as events arrive and stays
    readable after the block. The sinks already configured keep receiving
    events; nothing else about auditing changes.
    """
    with audit.capture() as events:
        yield AuditLog(events)
