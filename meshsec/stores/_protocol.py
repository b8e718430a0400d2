"""The ``Store`` protocol: the few atomic operations shared state needs.

Every write carries a TTL in seconds, so nothing a store holds outlives its
purpose (a revocation outlives the token it revokes by its TTL, no longer).
Implementations make each operation atomic on its own; callers build
read-modify-write cycles from :meth:`Store.compare_and_set`.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from meshsec.stores._errors import InvalidStoreArgument

__all__ = ["MAX_KEY_LENGTH", "MAX_TTL_SECONDS", "MAX_VALUE_BYTES", "Store"]

MAX_KEY_LENGTH = 512
MAX_VALUE_BYTES = 1 << 20
# Ten years: far beyond any token lifetime; a larger TTL is a unit mistake.
MAX_TTL_SECONDS = 10 * 366 * 24 * 3600.0


@runtime_checkable
class Store(Protocol):
    """Key-value state with per-entry TTL and atomic conditional writes.

    Keys are printable ASCII without spaces (at most ``MAX_KEY_LENGTH``),
    values are bytes, TTLs are positive seconds. Every method raises
    :class:`~meshsec.stores.StoreUnavailable` when the store cannot answer;
    it never answers "absent" instead.
    """

    def get(self, key: str) -> bytes | None:
        """Return the live value under key, or None when absent or expired."""
        ...

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        """Write value under key, replacing any value, expiring after ttl seconds."""
        ...

    def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Write value only if no live value exists; True if this call wrote it."""
        ...

    def compare_and_set(self, key: str, expected: bytes, new: bytes, *, ttl: float) -> bool:
        """Replace the value only if it currently equals expected; True if replaced."""
        ...

    def delete(self, key: str) -> bool:
        """Remove key; True if a live value was removed."""
        ...


def check_key(key: object) -> str:
    """Validate a store key (printable ASCII, no spaces) and return it."""
    if isinstance(key, str):
        # A str subclass may redefine __eq__/__hash__/isascii; keep only its text.
        key = str.__str__(key)
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidStoreArgument(f"a store key is a str of 1 to {MAX_KEY_LENGTH} characters")
    if not (key.isascii() and key.isprintable()) or " " in key:
        raise InvalidStoreArgument("a store key holds printable ASCII characters without spaces")
    return key


def check_value(value: object) -> bytes:
    """Validate a store value (bytes up to MAX_VALUE_BYTES) and return it."""
    if not isinstance(value, bytes) or len(value) > MAX_VALUE_BYTES:
        raise InvalidStoreArgument(f"a store value is bytes of at most {MAX_VALUE_BYTES} bytes")
    return value


def check_ttl(ttl: object) -> float:
    """Validate a TTL (positive, finite seconds) and return it as float."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise InvalidStoreArgument("a TTL is a number of seconds")
    try:
        seconds = float(ttl)
    except OverflowError:  # an int beyond float range (10**400) is no TTL either
        seconds = math.inf
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TTL_SECONDS):
        raise InvalidStoreArgument(
            f"a TTL is positive and at most {MAX_TTL_SECONDS:.0f} seconds; "
            "every store entry must expire"
        )
    return seconds
