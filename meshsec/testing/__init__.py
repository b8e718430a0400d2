"""Test helpers for services that use meshsec, and the pytest plugin behind them.

Everything here hands out real meshsec objects: :class:`TestMesh` is a
throwaway trust domain (CA, workloads, mTLS contexts and sessions, a
loopback HTTPS server, tokens, a keyring); :func:`capture_audit` collects the
audit events of a block; :func:`acting_as` runs code as a given caller;
:func:`frozen_clock` stops time; :func:`redis_server` starts a real
``redis-server`` on 127.0.0.1. With pytest installed, the ``meshsec`` plugin
(``meshsec.testing.plugin``, registered automatically) offers them as
``meshsec_*`` fixtures. This package imports without pytest.

Errors::

    StoreDependencyMissing (meshsec.stores)
    +-- RedisServerNotFound     testing.redis_server_not_found
    StoreUnavailable (meshsec.stores)
    +-- RedisServerFailed       testing.redis_server_failed
"""

from meshsec.testing._audit import AuditLog, capture_audit
from meshsec.testing._context import acting_as, frozen_clock
from meshsec.testing._errors import RedisServerFailed, RedisServerNotFound
from meshsec.testing._mesh import TestMesh
from meshsec.testing._redis import RedisServer, redis_server
from meshsec.testing._serve import ServedRequest

__all__ = [
    "AuditLog",
    "RedisServer",
    "RedisServerFailed",
    "RedisServerNotFound",
    "ServedRequest",
    "TestMesh",
    "acting_as",
    "capture_audit",
    "frozen_clock",
    "redis_server",
]
