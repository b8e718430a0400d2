"""Shared state behind one small protocol.

Revocations, refresh-token families and replay nonces live in a
:class:`Store`: :class:`MemoryStore` (the default, one process) or
:class:`RedisStore` (many processes and machines, same semantics). Every
write carries a TTL; an unreachable store raises :class:`StoreUnavailable`
so callers fail closed.

::

    StoreError (meshsec.errors)
    +-- StoreUnavailable          store.unavailable
    |   +-- StoreFull             store.full
    +-- StoreCorrupted            store.corrupted
    +-- InvalidStoreArgument      store.invalid_argument (also ValueError)
    +-- StoreDependencyMissing    store.dependency_missing (also ImportError)
"""

from meshsec.errors import StoreError
from meshsec.stores._errors import (
    InvalidStoreArgument,
    StoreCorrupted,
    StoreDependencyMissing,
    StoreFull,
    StoreUnavailable,
)
from meshsec.stores._memory import MemoryStore
from meshsec.stores._protocol import MAX_KEY_LENGTH, MAX_TTL_SECONDS, MAX_VALUE_BYTES, Store
from meshsec.stores._redis import RedisStore

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_TTL_SECONDS",
    "MAX_VALUE_BYTES",
    "InvalidStoreArgument",
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreCorrupted",
    "StoreDependencyMissing",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
]
