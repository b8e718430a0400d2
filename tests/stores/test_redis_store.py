"""RedisStore specifics: configuration, key hygiene, outages, the optional dependency."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from meshsec.errors import ConfigError
from meshsec.stores import RedisStore, StoreDependencyMissing, StoreUnavailable
from tests.redis_server import RedisServer, running_redis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def test_every_key_written_has_a_ttl(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="ttl:") as store, redis_server.client() as raw:
        store.set("a", b"1", ttl=60)
        store.set_if_absent("b", b"1", ttl=60)
        store.set("c", b"1", ttl=60)
        store.compare_and_set("c", b"1", b"2", ttl=30)
        names = list(raw.scan_iter(match="ttl:*"))
        assert sorted(names) == [b"ttl:a", b"ttl:b", b"ttl:c"]
        for name in names:
            assert 0 < raw.pttl(name) <= 60_000
        assert raw.pttl("ttl:c") <= 30_000


def test_sub_millisecond_ttl_still_expires(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="tiny:") as store, redis_server.client() as raw:
        store.set("k", b"v", ttl=0.0001)
        assert raw.pttl("tiny:k") in (-2, 0, 1)  # expiring or gone, never persistent


def test_prefixes_isolate_stores(redis_server: RedisServer) -> None:
    with (
        RedisStore(url=redis_server.url, prefix="app1:") as one,
        RedisStore(url=redis_server.url, prefix="app2:") as two,
    ):
        one.set("k", b"one", ttl=60)
        assert two.get("k") is None
        assert two.set_if_absent("k", b"two", ttl=60)
        assert one.get("k") == b"one"


def test_binary_values_round_trip(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="bin:") as store:
        value = bytes(range(256))
        store.set("k", value, ttl=60)
        assert store.get("k") == value


def test_works_with_a_caller_supplied_client(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        store = RedisStore(client, prefix="own:")
        store.set("k", b"v", ttl=60)
        assert store.get("k") == b"v"
        store.close()  # does not close a client it did not build
        assert client.ping()


def test_decoding_client_refused(redis_server: RedisServer) -> None:
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    with client, pytest.raises(ConfigError):
        RedisStore(client)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "", "redis://127.0.0.1:notaport/0"]
)
def test_bad_url_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        RedisStore(url=url).get("k")


def test_needs_exactly_one_of_client_or_url(redis_server: RedisServer) -> None:
    with pytest.raises(ConfigError):
        RedisStore()
    with redis_server.client() as client, pytest.raises(ConfigError):
        RedisStore(client, url=redis_server.url)


def test_password_never_in_repr() -> None:
    store = RedisStore(url="redis://user:hunter2-secret@127.0.0.1:1/0", prefix="p:")
    with store:
        assert "hunter2" not in repr(store)
        assert repr(store) == "RedisStore(prefix='p:')"


def test_connection_refused_is_store_unavailable() -> None:
    # Port 1 on loopback: nothing listens there.
    with RedisStore(url="redis://127.0.0.1:1/0", connect_timeout=0.5) as store:
        for operation in (
            lambda: store.get("k"),
            lambda: store.set("k", b"v", ttl=1),
            lambda: store.set_if_absent("k", b"v", ttl=1),
            lambda: store.compare_and_set("k", b"v", b"w", ttl=1),
            lambda: store.delete("k"),
        ):
            with pytest.raises(StoreUnavailable) as info:
                operation()
            assert info.value.code == "store.unavailable"


def test_server_stopped_mid_test_then_restarted() -> None:
    with running_redis() as server, RedisStore(url=server.url) as store:
        store.set("k", b"v", ttl=60)
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("k")
        assert time.monotonic() - started < 5, "an outage must fail fast, not hang"
        with pytest.raises(StoreUnavailable):
            store.set_if_absent("k", b"v", ttl=60)


def test_hung_server_times_out_as_unavailable(redis_server: RedisServer) -> None:
    with redis_server.client() as admin:
        store = RedisStore(url=redis_server.url, socket_timeout=0.2, prefix="hang:")
        with store:
            store.get("warm")  # open a pooled connection first
            admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
            try:
                with pytest.raises(StoreUnavailable):
                    store.get("k")
            finally:
                admin.execute_command("CLIENT", "UNPAUSE")


def test_missing_redis_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from meshsec.stores import RedisStore, StoreDependencyMissing\n"
        "try:\n"
        "    RedisStore(url='redis://127.0.0.1:1/0')\n"
        "except StoreDependencyMissing as exc:\n"
        "    assert isinstance(exc, ImportError)\n"
        "    print(exc.code, exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "store.dependency_missing" in done.stdout
    assert "meshsec[redis]" in done.stdout


def test_importing_stores_does_not_import_redis() -> None:
    code = "import sys, meshsec.stores, meshsec.tokens; print('redis' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
    assert StoreDependencyMissing.code == "store.dependency_missing"
