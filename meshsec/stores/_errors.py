"""Errors of the shared-state stores.

::

    StoreError (meshsec.errors)
    +-- StoreUnavailable          store.unavailable   the store cannot answer: fail closed
    |   +-- StoreFull             store.full          the memory store reached max_entries
    +-- StoreCorrupted            store.corrupted     a stored record cannot be decoded
    +-- InvalidStoreArgument      store.invalid_argument (also ValueError)
    +-- StoreDependencyMissing    store.dependency_missing (also ImportError)
"""

from __future__ import annotations

from meshsec.errors import StoreError

__all__ = [
    "InvalidStoreArgument",
    "StoreCorrupted",
    "StoreDependencyMissing",
    "StoreFull",
    "StoreUnavailable",
]


class StoreUnavailable(StoreError):  # noqa: N818  meshsec names errors by condition (TokenExpired)
    """The store could not be reached or did not answer in time.

    Callers treat this as "unknown", never as "absent": a revocation check
    that cannot reach its store fails closed.
    """

    code = "store.unavailable"


class StoreFull(StoreUnavailable):
    """The in-memory store holds max_entries live entries and refuses new ones.

    Evicting an entry early could forget a revocation, so the store refuses
    the write instead; raise max_entries or use a RedisStore.
    """

    code = "store.full"


class StoreCorrupted(StoreError):  # noqa: N818  meshsec names errors by condition (TokenExpired)
    """A stored record could not be decoded; it was not written by this version of meshsec."""

    code = "store.corrupted"


class InvalidStoreArgument(StoreError, ValueError):  # noqa: N818  meshsec names errors by condition (TokenExpired)
    """A key, value or TTL given to a store is not acceptable."""

    code = "store.invalid_argument"


class StoreDependencyMissing(StoreError, ImportError):  # noqa: N818  meshsec names errors by condition (TokenExpired)
    """An optional dependency of a store is not installed."""

    code = "store.dependency_missing"
