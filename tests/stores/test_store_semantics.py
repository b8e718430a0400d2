"""One behaviour, two stores: every test here runs on MemoryStore and RedisStore."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshsec.clock import FrozenClock
from meshsec.stores import (
    MAX_KEY_LENGTH,
    MAX_TTL_SECONDS,
    MAX_VALUE_BYTES,
    InvalidStoreArgument,
    MemoryStore,
    Store,
    StoreError,
)

keys = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=200
)
values = st.binary(max_size=2048)


def expire(store: Store, clock: FrozenClock, ttl: float) -> None:
    """Let an entry written with ttl expire: move the frozen clock, or wait for Redis."""
    if isinstance(store, MemoryStore):
        clock.advance(ttl + 0.001)
    else:
        time.sleep(ttl + 0.1)


def test_get_absent_is_none(store: Store) -> None:
    assert store.get("missing") is None


def test_set_then_get(store: Store) -> None:
    store.set("k", b"v", ttl=60)
    assert store.get("k") == b"v"


def test_set_replaces(store: Store) -> None:
    store.set("k", b"one", ttl=60)
    store.set("k", b"two", ttl=60)
    assert store.get("k") == b"two"


def test_set_if_absent_wins_once(store: Store) -> None:
    assert store.set_if_absent("k", b"first", ttl=60) is True
    assert store.set_if_absent("k", b"second", ttl=60) is False
    assert store.get("k") == b"first"


def test_compare_and_set_needs_the_expected_value(store: Store) -> None:
    store.set("k", b"a", ttl=60)
    assert store.compare_and_set("k", b"wrong", b"b", ttl=60) is False
    assert store.get("k") == b"a"
    assert store.compare_and_set("k", b"a", b"b", ttl=60) is True
    assert store.get("k") == b"b"


def test_compare_and_set_on_absent_key_fails(store: Store) -> None:
    assert store.compare_and_set("k", b"", b"b", ttl=60) is False
    assert store.get("k") is None


def test_delete(store: Store) -> None:
    store.set("k", b"v", ttl=60)
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False


def test_entries_expire(store: Store, clock: FrozenClock) -> None:
    store.set("k", b"v", ttl=0.2)
    store.set("long", b"v", ttl=60)
    expire(store, clock, 0.2)
    assert store.get("k") is None
    assert store.get("long") == b"v"


def test_expired_entry_is_absent_for_set_if_absent(store: Store, clock: FrozenClock) -> None:
    store.set_if_absent("k", b"old", ttl=0.2)
    expire(store, clock, 0.2)
    assert store.set_if_absent("k", b"new", ttl=60) is True
    assert store.get("k") == b"new"


def test_expired_entry_cannot_be_compared_and_set(store: Store, clock: FrozenClock) -> None:
    store.set("k", b"old", ttl=0.2)
    expire(store, clock, 0.2)
    assert store.compare_and_set("k", b"old", b"new", ttl=60) is False
    assert store.get("k") is None


def test_compare_and_set_renews_ttl(store: Store, clock: FrozenClock) -> None:
    store.set("k", b"a", ttl=0.3)
    assert store.compare_and_set("k", b"a", b"b", ttl=60)
    expire(store, clock, 0.3)
    assert store.get("k") == b"b"


@pytest.mark.parametrize(
    "key",
    [
        "",
        " ",
        "has space",
        "tab\there",
        "new\nline",
        "ünï",
        "x" * (MAX_KEY_LENGTH + 1),
        None,
        1,
        b"k",
    ],
)
def test_bad_key_rejected_and_nothing_written(store: Store, key: object) -> None:
    with pytest.raises(InvalidStoreArgument):
        store.set(key, b"v", ttl=60)  # type: ignore[arg-type]
    with pytest.raises(InvalidStoreArgument):
        store.get(key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ttl", [0, -1, math.nan, math.inf, -math.inf, True, "60", None, MAX_TTL_SECONDS * 2]
)
def test_every_write_needs_a_finite_positive_ttl(store: Store, ttl: object) -> None:
    for write in (
        lambda: store.set("k", b"v", ttl=ttl),  # type: ignore[arg-type]
        lambda: store.set_if_absent("k", b"v", ttl=ttl),  # type: ignore[arg-type]
        lambda: store.compare_and_set("k", b"", b"v", ttl=ttl),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidStoreArgument):
            write()
    assert store.get("k") is None


@pytest.mark.parametrize("value", ["text", None, bytearray(b"v"), b"x" * (MAX_VALUE_BYTES + 1)])
def test_bad_value_rejected(store: Store, value: object) -> None:
    with pytest.raises(InvalidStoreArgument) as info:
        store.set("k", value, ttl=60)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, StoreError)
    assert store.get("k") is None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(key=keys, value=values)
def test_round_trip_any_key_and_value(store: Store, key: str, value: bytes) -> None:
    store.set(key, value, ttl=60)
    assert store.get(key) == value
    assert store.compare_and_set(key, value, value + b"!", ttl=60)
    assert store.get(key) == value + b"!"
    assert store.delete(key)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(key=keys, first=values, second=values)
def test_set_if_absent_keeps_the_first_value(
    store: Store, key: str, first: bytes, second: bytes
) -> None:
    store.delete(key)
    assert store.set_if_absent(key, first, ttl=60)
    assert not store.set_if_absent(key, second, ttl=60)
    assert store.get(key) == first


def _race(store: Store, attempt: object, contenders: int = 8) -> list[bool]:
    barrier = threading.Barrier(contenders)
    results: list[bool] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        won = attempt()  # type: ignore[operator]
        with lock:
            results.append(won)

    threads = [threading.Thread(target=run) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_race_set_if_absent_has_one_winner(store: Store) -> None:
    for round_ in range(10):
        results = _race(store, lambda r=round_: store.set_if_absent(f"race{r}", b"x", ttl=60))
        assert results.count(True) == 1


def test_race_compare_and_set_has_one_winner(store: Store) -> None:
    for round_ in range(10):
        key = f"cas{round_}"
        store.set(key, b"v0", ttl=60)
        counter = iter(range(1, 1000))  # never v0 again

        def attempt(k: str = key, c: Iterator[int] = counter) -> bool:
            return store.compare_and_set(k, b"v0", b"v%d" % next(c), ttl=60)

        results = _race(store, attempt)
        assert results.count(True) == 1
