"""MemoryStore specifics: bounded size, expiry sweeping, repr."""

from __future__ import annotations

import pytest

from meshsec.clock import FrozenClock
from meshsec.stores import InvalidStoreArgument, MemoryStore, StoreFull, StoreUnavailable


def test_attack_memory_exhaustion_refused_not_evicted() -> None:
    clock = FrozenClock(0)
    store = MemoryStore(clock=clock, max_entries=3)
    for key in ("a", "b", "c"):
        store.set(key, b"revoked", ttl=60)
    with pytest.raises(StoreFull) as info:
        store.set("d", b"revoked", ttl=60)
    assert isinstance(info.value, StoreUnavailable)  # callers failing closed catch it too
    assert info.value.code == "store.full"
    # Nothing was evicted to make room: every revocation is still there.
    assert [store.get(k) for k in ("a", "b", "c", "d")] == [b"revoked"] * 3 + [None]
    store.set("a", b"rewritten", ttl=60)  # an existing key can still be rewritten


def test_expired_entries_make_room() -> None:
    clock = FrozenClock(0)
    store = MemoryStore(clock=clock, max_entries=10)
    for i in range(10):
        store.set(f"old{i}", b"v", ttl=1)
    clock.advance(2)
    for i in range(10):
        store.set(f"new{i}", b"v", ttl=60)
    assert len(store) == 10


def test_writes_sweep_expired_entries_without_reads() -> None:
    clock = FrozenClock(0)
    store = MemoryStore(clock=clock)
    for i in range(1000):
        store.set(f"k{i}", b"v", ttl=1)
    clock.advance(2)
    for i in range(200):
        store.set(f"fresh{i}", b"v", ttl=60)
    assert len(store) == 200
    # Every write removed up to 16 expired entries, so the backlog is gone.
    assert len(store._data) == 200


def test_rewrites_do_not_grow_without_bound() -> None:
    store = MemoryStore(clock=FrozenClock(0))
    for i in range(10_000):
        store.set("same", b"%d" % i, ttl=60)
    assert len(store._expiries) < 200


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_bad_max_entries(bad: object) -> None:
    with pytest.raises(InvalidStoreArgument):
        MemoryStore(max_entries=bad)  # type: ignore[arg-type]


def test_repr_shows_no_contents() -> None:
    store = MemoryStore()
    store.set("k", b"secret-value", ttl=60)
    assert "secret-value" not in repr(store)
    assert repr(store) == "MemoryStore(max_entries=1000000)"
