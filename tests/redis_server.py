"""Start a real, throwaway redis-server on 127.0.0.1 for tests and benchmarks.

The server itself lives in :mod:`meshsec.testing` (``RedisServer``,
``redis_server``) so that services' own test suites get it too; this module
keeps the names our tests and benchmarks import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from meshsec.testing._redis import SKIP_REASON, RedisServer, redis_binary

__all__ = ["SKIP_REASON", "RedisServer", "redis_binary", "running_redis"]


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A started server, killed on exit; skips the test when the binary is absent."""
    binary = redis_binary()
    if binary is None:
        pytest.skip(SKIP_REASON)
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.close()
