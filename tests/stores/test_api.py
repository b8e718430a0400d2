"""The public surface of meshsec.stores."""

from __future__ import annotations

import meshsec.stores
from meshsec.errors import StoreError
from meshsec.stores import MemoryStore, RedisStore, Store
from tests.api import assert_all_is_public, assert_raised_errors_exported


def test_all_is_public() -> None:
    assert_all_is_public(meshsec.stores)


def test_raised_errors_exported() -> None:
    assert_raised_errors_exported(meshsec.stores)


def test_store_errors_have_stable_codes() -> None:
    codes = {
        "StoreUnavailable": "store.unavailable",
        "StoreFull": "store.full",
        "StoreCorrupted": "store.corrupted",
        "InvalidStoreArgument": "store.invalid_argument",
        "StoreDependencyMissing": "store.dependency_missing",
    }
    for name, code in codes.items():
        cls = getattr(meshsec.stores, name)
        assert issubclass(cls, StoreError)
        assert cls.code == code


def test_both_stores_satisfy_the_protocol() -> None:
    assert isinstance(MemoryStore(), Store)
    with RedisStore(url="redis://127.0.0.1:1/0") as store:
        assert isinstance(store, Store)
