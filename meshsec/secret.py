"""Secrets as a type.

:class:`Secret` wraps a key, token or password so that ``repr``, ``str``,
formatting, logging and exceptions show ``[REDACTED]``. Getting the value out
needs an explicit :meth:`Secret.reveal`; comparison is constant-time; pickling
is refused so a secret cannot leak through a cache or a queue by accident.
"""

from __future__ import annotations

import hmac
from typing import Generic, NoReturn, TypeVar

__all__ = ["REDACTED", "Secret"]

REDACTED = "[REDACTED]"

_T = TypeVar("_T", str, bytes)


class Secret(Generic[_T]):
    """A value that never shows itself.

    >>> password = Secret("hunter2")
    >>> password
    Secret('[REDACTED]')
    >>> f"{password}"
    '[REDACTED]'
    >>> password.reveal()
    'hunter2'
    """

    __slots__ = ("_value",)

    def __init__(self, value: _T) -> None:
        if not isinstance(value, str | bytes):
            raise TypeError("Secret holds str or bytes")
        self._value: _T = value

    def reveal(self) -> _T:
        """Return the wrapped value. Call this at the last possible moment."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        mine, theirs = self._value, other._value
        if type(mine) is not type(theirs):
            return False
        return hmac.compare_digest(_as_bytes(mine), _as_bytes(theirs))

    __hash__ = None  # type: ignore[assignment]  # a hash would be an oracle on the value

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")

    # A Secret is immutable, so a copy is the same object: copying a frozen
    # configuration that holds one works, and the value is never duplicated.
    def __copy__(self) -> Secret[_T]:
        return self

    def __deepcopy__(self, memo: object) -> Secret[_T]:
        return self


def _as_bytes(value: str | bytes) -> bytes:
    # "surrogatepass": a str holding lone surrogates still compares (by value)
    # instead of raising UnicodeEncodeError from ==.
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
