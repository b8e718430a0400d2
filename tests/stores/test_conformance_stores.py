"""Issue 2, meshsec.stores line by line, against MemoryStore and a real redis-server."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError, StoreError
from meshsec.stores import MemoryStore, RedisStore, Store, StoreUnavailable
from meshsec.tokens import (
    KeySet,
    SigningKey,
    TokenIssuer,
    TokenReplayed,
    TokenRevoked,
    TokenVerifier,
)
from tests.redis_server import RedisServer, running_redis

ISS = "https://issuer.example"
AUD = "orders"


def test_store_protocol_is_runtime_checkable_for_both_stores(redis_server: RedisServer) -> None:
    assert isinstance(MemoryStore(), Store)
    with RedisStore(url=redis_server.url, prefix="conf-proto:") as redis_store:
        assert isinstance(redis_store, Store)


def test_store_operations_named_by_the_issue(store: Store, clock: FrozenClock) -> None:
    # set-if-absent with TTL, get, delete, TTL'd membership.
    assert store.set_if_absent("conf:k", b"v1", ttl=30) is True
    assert store.set_if_absent("conf:k", b"v2", ttl=30) is False
    assert store.get("conf:k") == b"v1"
    assert store.delete("conf:k") is True
    assert store.get("conf:k") is None
    assert store.delete("conf:k") is False


def test_memory_store_expires_entries() -> None:
    clock = FrozenClock(1_700_000_000)
    store = MemoryStore(clock=clock)
    store.set("member", b"1", ttl=10)
    clock.advance(9.9)
    assert store.get("member") == b"1"
    clock.advance(0.2)
    assert store.get("member") is None
    assert store.set_if_absent("member", b"2", ttl=10) is True


def test_memory_store_is_thread_safe_set_if_absent() -> None:
    store = MemoryStore()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        wins.append(store.set_if_absent("once", b"x", ttl=60))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_redis_every_key_ttld_after_verifier_use(redis_server: RedisServer) -> None:
    keys = KeySet([SigningKey.generate(alg="EdDSA")])
    issuer = TokenIssuer(issuer=ISS, keys=keys)
    with (
        RedisStore(url=redis_server.url, prefix="conf-ttl:") as store,
        redis_server.client() as raw,
    ):
        verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, revocations=store)
        token = issuer.issue("alice", AUD)
        claims = verifier.verify(token, one_time=True)
        verifier.revoke(claims.token_id, claims.expires_at + timedelta(seconds=30))
        names = list(raw.scan_iter(match="conf-ttl:*"))
        assert names
        for name in names:
            assert raw.pttl(name) > 0


def test_bare_redis_store_as_verifier_revocations(redis_server: RedisServer) -> None:
    keys = KeySet([SigningKey.generate(alg="EdDSA")])
    issuer = TokenIssuer(issuer=ISS, keys=keys)
    with (
        RedisStore(url=redis_server.url, prefix="conf-bare:") as here,
        RedisStore(url=redis_server.url, prefix="conf-bare:") as there,
    ):
        a = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, revocations=here, cache_size=0)
        b = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, revocations=there)
        token = issuer.issue("alice", AUD)
        claims = b.verify(token)  # cached in b now
        a.revoke(claims.token_id, claims.expires_at + timedelta(seconds=30))
        with pytest.raises(TokenRevoked):
            b.verify(token)  # a cache hit still checks revocation
        once = issuer.issue("bob", AUD)
        assert a.verify(once, one_time=True).subject == "bob"
        with pytest.raises(TokenReplayed):
            b.verify(once, one_time=True)


def test_redis_stopped_mid_test_verifier_fails_closed() -> None:
    keys = KeySet([SigningKey.generate(alg="EdDSA")])
    issuer = TokenIssuer(issuer=ISS, keys=keys)
    with running_redis() as server, RedisStore(url=server.url) as store:
        verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, revocations=store)
        token = issuer.issue("alice", AUD)
        assert verifier.verify(token).subject == "alice"
        server.stop()
        started = time.monotonic()
        with audit.capture() as events, pytest.raises(StoreUnavailable) as caught:
            verifier.verify(token)  # a cache hit too: revocation still asks the store
        assert caught.value.code == "store.unavailable"
        assert isinstance(caught.value, StoreError)
        assert time.monotonic() - started < 5
        assert [e.reason for e in events if e.action == "token.verify"] == ["store.unavailable"]


def test_redis_stopped_unsafe_fail_open_passes_and_audits() -> None:
    keys = KeySet([SigningKey.generate(alg="EdDSA")])
    issuer = TokenIssuer(issuer=ISS, keys=keys)
    with running_redis() as server, RedisStore(url=server.url) as store:
        with audit.capture() as events:
            verifier = TokenVerifier(
                issuer=ISS, audience=AUD, keys=keys, revocations=store, unsafe_fail_open=True
            )
            token = issuer.issue("alice", AUD)
            server.stop()
            assert verifier.verify(token).subject == "alice"
            # One-time use never fails open: that would allow a replay.
            with pytest.raises(StoreUnavailable):
                verifier.verify(issuer.issue("bob", AUD), one_time=True)
        actions = [e.action for e in events]
        assert "revocation.unsafe_fail_open" in actions
        assert "revocation.check_failed_open" in actions


def test_redis_store_url_as_first_argument_and_from_url(redis_server: RedisServer) -> None:
    with RedisStore(redis_server.url, prefix="conf-url:") as positional:
        positional.set("k", b"v", ttl=30)
    with RedisStore.from_url(redis_server.url, prefix="conf-url:") as named:
        assert named.get("k") == b"v"


@pytest.mark.parametrize("client", [object(), 42, b"redis://127.0.0.1:1"])
def test_redis_store_non_client_is_config_error(client: object) -> None:
    with pytest.raises(ConfigError):
        RedisStore(client)  # type: ignore[arg-type]
