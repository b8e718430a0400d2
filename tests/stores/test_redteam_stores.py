"""Red-team: type confusion, boundaries and races against both stores."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError
from meshsec.stores import (
    MAX_KEY_LENGTH,
    MAX_TTL_SECONDS,
    MAX_VALUE_BYTES,
    InvalidStoreArgument,
    MemoryStore,
    Store,
    StoreError,
)
from meshsec.tokens import RevocationList


class Key(str):
    """A str subclass that lies about itself."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


@pytest.mark.parametrize(
    "ttl",
    [
        pytest.param(10**400, id="int-1e400"),
        pytest.param(-(10**400), id="int-minus-1e400"),
        math.nan,
        math.inf,
        -math.inf,
        0,
        0.0,
        -0.0,
        -1,
        True,
        False,
        "5",
        None,
    ],
)
def test_ttl_type_confusion_is_a_typed_error_and_writes_nothing(store: Store, ttl: object) -> None:
    for write in (
        lambda: store.set("k", b"v", ttl=ttl),  # type: ignore[arg-type]
        lambda: store.set_if_absent("k", b"v", ttl=ttl),  # type: ignore[arg-type]
        lambda: store.compare_and_set("k", b"v", b"w", ttl=ttl),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidStoreArgument):
            write()
    assert store.get("k") is None


def test_ttl_limits_exactly(store: Store) -> None:
    store.set("k", b"v", ttl=MAX_TTL_SECONDS)
    assert store.get("k") == b"v"
    with pytest.raises(InvalidStoreArgument):
        store.set("k", b"w", ttl=math.nextafter(MAX_TTL_SECONDS, math.inf))
    assert store.get("k") == b"v"
    store.set("tiny", b"v", ttl=5e-324)  # the smallest positive float still expires


def test_key_and_value_limits_exactly(store: Store) -> None:
    store.set("k" * MAX_KEY_LENGTH, b"v", ttl=5)
    with pytest.raises(InvalidStoreArgument):
        store.set("k" * (MAX_KEY_LENGTH + 1), b"v", ttl=5)
    store.set("big", b"\x00" * MAX_VALUE_BYTES, ttl=5)
    with pytest.raises(InvalidStoreArgument):
        store.set("big2", b"\x00" * (MAX_VALUE_BYTES + 1), ttl=5)
    assert store.get("big2") is None


@pytest.mark.parametrize(
    "key",
    ["a b", "a\tb", "a\nb", "a\x00b", "k\u200b", "\u212a", "é", "a\x7fb", b"key", 5, None, ""],
)
def test_hostile_keys_rejected_on_every_operation(store: Store, key: object) -> None:
    operations = [
        lambda: store.get(key),  # type: ignore[arg-type]
        lambda: store.set(key, b"v", ttl=5),  # type: ignore[arg-type]
        lambda: store.set_if_absent(key, b"v", ttl=5),  # type: ignore[arg-type]
        lambda: store.compare_and_set(key, b"v", b"w", ttl=5),  # type: ignore[arg-type]
        lambda: store.delete(key),  # type: ignore[arg-type]
    ]
    for operation in operations:
        with pytest.raises(InvalidStoreArgument):
            operation()


@pytest.mark.parametrize("value", ["text", bytearray(b"v"), memoryview(b"v"), 5, None])
def test_values_must_be_bytes(store: Store, value: object) -> None:
    with pytest.raises(InvalidStoreArgument):
        store.set("k", value, ttl=5)  # type: ignore[arg-type]
    assert store.get("k") is None


def test_lying_str_subclass_key_cannot_alias_another_key(store: Store) -> None:
    store.set("victim", b"secret-state", ttl=5)
    store.set(Key("attacker"), b"x", ttl=5)
    assert store.get("victim") == b"secret-state"
    assert store.get("attacker") == b"x"


def test_memory_store_race_set_if_absent_many_threads_one_winner() -> None:
    store = MemoryStore()
    for round_number in range(20):
        key = f"nonce:{round_number}"
        barrier = threading.Barrier(8)
        wins: list[bool] = []

        def contend(
            key: str = key, barrier: threading.Barrier = barrier, wins: list[bool] = wins
        ) -> None:
            barrier.wait()
            wins.append(store.set_if_absent(key, b"1", ttl=60))

        threads = [threading.Thread(target=contend) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wins.count(True) == 1


def test_memory_store_expiry_boundary_is_exclusive() -> None:
    clock = FrozenClock(1_000)
    store = MemoryStore(clock=clock)
    store.set("k", b"v", ttl=10)
    clock.advance(10 - 1e-6)
    assert store.get("k") == b"v"
    clock.advance(1e-6)
    assert store.get("k") is None
    assert store.set_if_absent("k", b"w", ttl=10)


# -- RevocationList over odd jti values and times -------------------------------------------


@pytest.mark.parametrize(
    "jti",
    [
        "\ud800",
        "a" * 100_000,
        "*",
        "rev:*",
        "../../etc",
        "\u202eevil",
        "x\x00y",
        " ",
        "\u0000",
        "k\u200b",
    ],
)
def test_odd_jti_values_revoke_exactly_themselves(store: Store, jti: str) -> None:
    revocations = RevocationList(store, clock=lambda: 1_700_000_000.0)
    revocations.revoke(jti, 1_700_000_100)
    assert revocations.is_revoked(jti)
    for other in ("a", jti + "x", jti.upper() if jti.upper() != jti else jti + "\u200b"):
        assert not revocations.is_revoked(other)


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_jti_revocation_never_aliases(first: str, second: str) -> None:
    revocations = RevocationList(clock=lambda: 1_700_000_000.0)
    revocations.revoke(first, 1_700_000_100)
    assert revocations.is_revoked(second) == (first == second)


@pytest.mark.parametrize(
    "until", [pytest.param(10**400, id="int-1e400"), math.nan, math.inf, True, "soon", None]
)
def test_revocation_until_type_confusion_is_config_error(until: object) -> None:
    revocations = RevocationList(clock=lambda: 1_700_000_000.0)
    with pytest.raises(ConfigError):
        revocations.revoke("jti", until)  # type: ignore[arg-type]
    assert not revocations.is_revoked("jti")


def test_revocation_beyond_the_store_ttl_limit_is_a_typed_error() -> None:
    revocations = RevocationList(clock=lambda: 1_700_000_000.0)
    with pytest.raises(StoreError):
        revocations.revoke("jti", 1_700_000_000.0 + MAX_TTL_SECONDS * 2)
