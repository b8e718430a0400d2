"""The ``meshsec`` pytest plugin: meshsec's test helpers as ``meshsec_*`` fixtures.

Registered through the ``pytest11`` entry point, so installing meshsec makes
the fixtures available to every test suite. Loading the plugin does nothing
else: it defines no hooks and no autouse fixtures, and imports meshsec only
when a test asks for one of its fixtures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from meshsec.clock import FrozenClock
    from meshsec.correlation import CorrelationContext
    from meshsec.stores import RedisStore
    from meshsec.testing import AuditLog, RedisServer, TestMesh

__all__ = [
    "meshsec_acting_as",
    "meshsec_audit",
    "meshsec_clock",
    "meshsec_correlation",
    "meshsec_mesh",
    "meshsec_redis",
    "meshsec_redis_server",
]


@pytest.fixture
def meshsec_clock() -> FrozenClock:
    """A FrozenClock stopped at the current second; move it with ``advance``/``set``.

    ``meshsec_mesh`` runs on this clock, so advancing it expires the mesh's
    tokens and certificates (as meshsec sees them) without sleeping.
    """
    from meshsec.testing import frozen_clock

    return frozen_clock()


@pytest.fixture
def meshsec_mesh(meshsec_clock: FrozenClock) -> Iterator[TestMesh]:
    """A fresh TestMesh (trust domain ``test.example``) on ``meshsec_clock``, closed after the test.

    ``meshsec_mesh.workload("orders")`` is ``spiffe://test.example/orders``;
    see ``TestMesh`` for mTLS contexts, sessions, ``serve``, tokens and keys.
    """
    from meshsec.testing import TestMesh

    with TestMesh(clock=meshsec_clock) as mesh:
        yield mesh


@pytest.fixture
def meshsec_audit() -> Iterator[AuditLog]:
    """Every audit event emitted during the test (from any thread), as an AuditLog.

    ``meshsec_audit.assert_emitted(reason="token.expired")`` checks that
    exactly one such event was recorded; ``.of(...)`` filters, ``.reasons``
    lists the reason codes.
    """
    from meshsec.testing import capture_audit

    with capture_audit() as log:
        yield log


@pytest.fixture
def meshsec_acting_as() -> Callable[..., contextlib.AbstractContextManager[object]]:
    """``meshsec.testing.acting_as``: ``with meshsec_acting_as("alice", scopes=["read"]):``.

    Runs the block as that caller, so ``meshsec.policy.enforce`` and friends
    decide for it; the previous caller is restored after the block.
    """
    from meshsec.testing import acting_as

    return acting_as


@pytest.fixture
def meshsec_correlation() -> Iterator[CorrelationContext]:
    """A fresh correlation context bound for the whole test; yields it.

    Audit events and outgoing headers of the test carry its correlation ID.
    """
    from meshsec import correlation

    with correlation.scope() as context:
        yield context


@pytest.fixture(scope="session")
def meshsec_redis_server() -> Iterator[RedisServer]:
    """One real redis-server on 127.0.0.1 for the whole session (no persistence).

    Skips the tests that need it, with the reason, when ``redis-server`` is
    not installed.
    """
    from meshsec.testing import RedisServer, RedisServerNotFound

    try:
        server = RedisServer()
    except RedisServerNotFound as exc:
        pytest.skip(exc.message)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def meshsec_redis(meshsec_redis_server: RedisServer) -> Iterator[RedisStore]:
    """A RedisStore on the session's redis-server, with a prefix unique to this test.

    Tests never see each other's keys. Skips when ``redis-server`` or the
    redis-py package (``pip install 'meshsec[redis]'``) is missing.
    """
    from meshsec.stores import StoreDependencyMissing

    try:
        store = meshsec_redis_server.store()
    except StoreDependencyMissing as exc:
        pytest.skip(exc.message)
    with store:
        yield store
