"""The cached RevocationList: pub/sub invalidation that survives disconnects.

Redis pub/sub delivers at most once, so each test here breaks the
subscription in a different way and checks that the cache either resyncs or
stops answering (and the store is asked), never that it keeps a stale "not
revoked" beyond its staleness bound.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from meshsec.errors import ConfigError
from meshsec.stores import MemoryStore, RedisStore, StoreUnavailable
from meshsec.tokens import RevocationList
from tests.redis_server import RedisServer, running_redis

STALENESS = 0.4


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def cached(redis_server: RedisServer) -> Iterator[RevocationList]:
    with (
        RedisStore(url=redis_server.url, prefix="c:") as store,
        RevocationList(store, cache_max_staleness=STALENESS) as revocations,
    ):
        assert _mirror(revocations).wait_fresh(5)
        yield revocations


def _mirror(revocations: RevocationList):  # type: ignore[no-untyped-def]
    mirror = revocations._mirror
    assert mirror is not None
    return mirror


def _eventually(check, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def _get_calls(server: RedisServer) -> int:
    with server.client() as raw:
        stats = raw.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


def test_checks_are_answered_from_memory(redis_server: RedisServer, cached: RevocationList) -> None:
    cached.revoke("jti-1", time.time() + 60)
    time.sleep(0.2)  # let the mirror read back its own announcement first
    before = _get_calls(redis_server)
    for _ in range(50):
        assert cached.is_revoked("jti-1")
        assert not cached.is_revoked("jti-2")
    # 100 checks, at most one GET: the mirror reading back a late announcement.
    assert _get_calls(redis_server) - before <= 1


def test_own_revocation_is_visible_at_once(cached: RevocationList) -> None:
    cached.revoke("jti-1", time.time() + 60)
    assert cached.is_revoked("jti-1")


def test_revocation_from_another_process_arrives(
    redis_server: RedisServer, cached: RevocationList
) -> None:
    code = (
        "import sys, time\n"
        "from meshsec.stores import RedisStore\n"
        "from meshsec.tokens import RevocationList\n"
        "with RedisStore(url=sys.argv[1], prefix='c:') as store:\n"
        "    RevocationList(store).revoke('stolen', time.time() + 60)\n"
    )
    assert not cached.is_revoked("stolen")
    subprocess.run([sys.executable, "-c", code, redis_server.url], check=True, timeout=60)
    assert _eventually(lambda: cached.is_revoked("stolen"), timeout=2)


def test_cached_revocation_expires(cached: RevocationList) -> None:
    cached.revoke("short", time.time() + 0.3)
    assert cached.is_revoked("short")
    time.sleep(0.5)
    assert not cached.is_revoked("short")


def test_attack_lost_invalidation_is_recovered_by_resync_on_reconnect(
    redis_server: RedisServer, cached: RevocationList
) -> None:
    mirror = _mirror(cached)
    resyncs = mirror.resyncs
    # A revocation whose announcement is lost (written without a publish,
    # exactly what a subscriber misses while disconnected).
    key = "c:rev:" + hashlib.sha256(b"missed").hexdigest()
    with redis_server.client() as raw:
        raw.set(key, b"%r" % (time.time() + 60), px=60_000)
        assert not cached.is_revoked("missed")  # the cache has not heard of it
        # Drop the subscriber's connection; it must reconnect and resync.
        assert raw.client_kill_filter(_type="pubsub") >= 1
    assert _eventually(lambda: mirror.resyncs > resyncs)
    assert mirror.wait_fresh(5)
    assert cached.is_revoked("missed")


def test_revocations_published_while_disconnected_are_not_lost(
    redis_server: RedisServer, cached: RevocationList
) -> None:
    with (
        RedisStore(url=redis_server.url, prefix="c:") as other_store,
        redis_server.client() as raw,
    ):
        other = RevocationList(other_store)
        for i in range(20):
            raw.client_kill_filter(_type="pubsub")
            other.revoke(f"jti-{i}", time.time() + 60)
        assert _mirror(cached).wait_fresh(5)
        assert _eventually(lambda: all(cached.is_revoked(f"jti-{i}") for i in range(20)))


def test_attack_silent_subscription_stops_answering_within_bound(
    redis_server: RedisServer, cached: RevocationList
) -> None:
    mirror = _mirror(cached)
    with redis_server.client() as raw:
        # The server stops answering anyone (a hung or partitioned Redis):
        # no pong comes back, so the cache must go stale, not keep answering.
        raw.execute_command("CLIENT", "PAUSE", 3000, "ALL")
        started = time.monotonic()
        assert _eventually(lambda: not mirror.fresh, timeout=STALENESS + 1.0)
        assert time.monotonic() - started <= STALENESS + 1.0
        with pytest.raises(StoreUnavailable):
            cached.is_revoked("jti-1")  # asks the store, which times out
        raw.execute_command("CLIENT", "UNPAUSE")
    assert mirror.wait_fresh(5)


def test_server_stopped_then_cache_fails_closed(
    redis_server: RedisServer, cached: RevocationList
) -> None:
    cached.revoke("jti-1", time.time() + 60)
    redis_server.stop()
    assert _eventually(lambda: not _mirror(cached).fresh, timeout=STALENESS + 1.0)
    with pytest.raises(StoreUnavailable):
        cached.is_revoked("jti-1")
    with pytest.raises(StoreUnavailable):
        cached.is_revoked("jti-2")


def test_server_restart_resyncs(redis_server: RedisServer, cached: RevocationList) -> None:
    redis_server.stop()
    assert _eventually(lambda: not _mirror(cached).fresh, timeout=STALENESS + 1.0)
    redis_server.start(same_port=True)
    assert _mirror(cached).wait_fresh(10)
    with RedisStore(url=redis_server.url, prefix="c:") as store:
        RevocationList(store).revoke("after-restart", time.time() + 60)
    assert _eventually(lambda: cached.is_revoked("after-restart"), timeout=2)


def test_cache_needs_a_redis_store() -> None:
    with pytest.raises(ConfigError):
        RevocationList(MemoryStore(), cache_max_staleness=1.0)


@pytest.mark.parametrize("staleness", [0.0, 0.01, 120.0, -1.0])
def test_cache_staleness_is_bounded(redis_server: RedisServer, staleness: float) -> None:
    with RedisStore(url=redis_server.url) as store, pytest.raises(ConfigError):
        RevocationList(store, cache_max_staleness=staleness)


def test_close_stops_the_mirror_thread(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url) as store:
        revocations = RevocationList(store, cache_max_staleness=1.0)
        mirror = _mirror(revocations)
        assert mirror.wait_fresh(5)
        revocations.close()
        assert not mirror._thread.is_alive()
        assert not mirror.fresh
