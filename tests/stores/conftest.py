"""Fixtures: the same store semantics run over MemoryStore and a real RedisStore."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from meshsec.clock import FrozenClock
from meshsec.stores import MemoryStore, RedisStore, Store
from tests.redis_server import RedisServer, running_redis

_prefixes = itertools.count()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_700_000_000)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, clock: FrozenClock) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore(clock=clock)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    # A fresh prefix per test keeps tests independent on one shared server.
    with RedisStore(url=server.url, prefix=f"t{next(_prefixes)}:") as redis_store:
        yield redis_store
