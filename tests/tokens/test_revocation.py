"""RevocationList semantics over MemoryStore and a real RedisStore."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import meshsec.tokens
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError, TokenError
from meshsec.stores import MemoryStore, RedisStore, Store, StoreUnavailable
from meshsec.tokens import RevocationList
from tests.redis_server import RedisServer, running_redis

NOW = 1_700_000_000.0
_prefixes = itertools.count()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, clock: FrozenClock) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore(clock=clock)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    with RedisStore(url=server.url, prefix=f"rl{next(_prefixes)}:") as redis_store:
        yield redis_store


@pytest.fixture
def revocations(store: Store, clock: FrozenClock) -> RevocationList:
    return RevocationList(store, clock=clock)


def test_revoked_jti_is_revoked(revocations: RevocationList) -> None:
    revocations.revoke("jti-1", NOW + 60)
    assert revocations.is_revoked("jti-1")
    assert not revocations.is_revoked("jti-2")


def test_revoke_accepts_aware_datetime(revocations: RevocationList) -> None:
    revocations.revoke("jti-1", datetime.fromtimestamp(NOW, tz=UTC) + timedelta(minutes=5))
    assert revocations.is_revoked("jti-1")


def test_revocation_in_the_past_does_nothing(revocations: RevocationList) -> None:
    revocations.revoke("jti-1", NOW - 1)
    assert not revocations.is_revoked("jti-1")


def test_memory_revocation_expires_with_the_clock(clock: FrozenClock) -> None:
    revocations = RevocationList(clock=clock)
    revocations.revoke("jti-1", NOW + 60)
    clock.advance(59)
    assert revocations.is_revoked("jti-1")
    clock.advance(2)
    assert not revocations.is_revoked("jti-1")


def test_redis_revocation_expires_for_real(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="expiry:") as redis_store:
        revocations = RevocationList(redis_store)
        revocations.revoke("jti-1", time.time() + 0.3)
        assert revocations.is_revoked("jti-1")
        time.sleep(0.5)
        assert not revocations.is_revoked("jti-1")


def test_attack_shortening_a_revocation_by_revoking_again(clock: FrozenClock) -> None:
    revocations = RevocationList(clock=clock)
    revocations.revoke("jti-1", NOW + 600)
    revocations.revoke("jti-1", NOW + 10)
    clock.advance(300)
    assert revocations.is_revoked("jti-1")


def test_revoking_again_can_extend(clock: FrozenClock) -> None:
    revocations = RevocationList(clock=clock)
    revocations.revoke("jti-1", NOW + 10)
    revocations.revoke("jti-1", NOW + 600)
    clock.advance(300)
    assert revocations.is_revoked("jti-1")


@pytest.mark.parametrize("until", [datetime(2030, 1, 1), "tomorrow", None, True, float("nan")])
def test_bad_until_rejected(revocations: RevocationList, until: object) -> None:
    with pytest.raises(ConfigError):
        revocations.revoke("jti-1", until)  # type: ignore[arg-type]
    assert not revocations.is_revoked("jti-1")


@pytest.mark.parametrize("jti", ["", None, 5, b"jti"])
def test_bad_jti_rejected(revocations: RevocationList, jti: object) -> None:
    with pytest.raises(TokenError):
        revocations.revoke(jti, NOW + 60)  # type: ignore[arg-type]
    with pytest.raises(TokenError):
        revocations.is_revoked(jti)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "jti", ["x" * 100_000, "\ud800", "a b\nc", "*", "rev:" + "0" * 64, "é\x00"]
)
def test_attack_hostile_jti_cannot_shape_store_keys(revocations: RevocationList, jti: str) -> None:
    revocations.revoke(jti, NOW + 60)
    assert revocations.is_revoked(jti)
    assert not revocations.is_revoked(jti + "x")


def test_consume_once_succeeds_once(revocations: RevocationList) -> None:
    assert revocations.consume_once("jti-1", NOW + 60) is True
    assert revocations.consume_once("jti-1", NOW + 60) is False
    assert revocations.consume_once("jti-2", NOW + 60) is True


def test_consume_once_is_not_a_revocation(revocations: RevocationList) -> None:
    revocations.consume_once("jti-1", NOW + 60)
    assert not revocations.is_revoked("jti-1")


def test_attack_replay_of_expired_one_time_token_refused(revocations: RevocationList) -> None:
    assert revocations.consume_once("jti-1", NOW - 1) is False


def test_attack_replay_race_has_one_winner(revocations: RevocationList) -> None:
    contenders = 8
    barrier = threading.Barrier(contenders)
    results: list[bool] = []

    def run() -> None:
        barrier.wait()
        results.append(revocations.consume_once("one-time", NOW + 60))

    threads = [threading.Thread(target=run) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


def test_default_store_is_memory() -> None:
    revocations = RevocationList()
    revocations.revoke("jti-1", time.time() + 60)
    assert revocations.is_revoked("jti-1")
    assert "MemoryStore" in repr(revocations)


def test_all_is_public() -> None:
    assert "RevocationList" in meshsec.tokens.__all__
    assert meshsec.tokens.RevocationList is RevocationList


def test_store_outage_fails_closed() -> None:
    with running_redis() as server, RedisStore(url=server.url) as redis_store:
        revocations = RevocationList(redis_store)
        revocations.revoke("jti-1", time.time() + 60)
        assert revocations.is_revoked("jti-1")
        server.stop()
        with pytest.raises(StoreUnavailable):
            revocations.is_revoked("jti-1")
        with pytest.raises(StoreUnavailable):
            revocations.is_revoked("never-revoked")
        with pytest.raises(StoreUnavailable):
            revocations.consume_once("jti-2", time.time() + 60)
        with pytest.raises(StoreUnavailable):
            revocations.revoke("jti-3", time.time() + 60)


def test_unsafe_fail_open_answers_not_revoked_on_outage() -> None:
    with running_redis() as server, RedisStore(url=server.url) as redis_store:
        revocations = RevocationList(redis_store, unsafe_fail_open=True)
        server.stop()
        assert revocations.is_revoked("jti-1") is False
        # One-time use never fails open: that would allow a replay.
        with pytest.raises(StoreUnavailable):
            revocations.consume_once("jti-1", time.time() + 60)
