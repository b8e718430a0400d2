"""Errors of the test helpers.

::

    StoreError (meshsec.errors)
    +-- StoreDependencyMissing (meshsec.stores)
    |   +-- RedisServerNotFound     testing.redis_server_not_found (also ImportError)
    +-- StoreUnavailable (meshsec.stores)
        +-- RedisServerFailed       testing.redis_server_failed
"""

from __future__ import annotations

from meshsec.stores import StoreDependencyMissing, StoreUnavailable

__all__ = ["RedisServerFailed", "RedisServerNotFound"]


class RedisServerNotFound(StoreDependencyMissing):
    """The redis-server binary is not on PATH; install it (apt-get install redis-server)."""

    code = "testing.redis_server_not_found"


class RedisServerFailed(StoreUnavailable):
    """redis-server was started but did not answer PING in time."""

    code = "testing.redis_server_failed"
