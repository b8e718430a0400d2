"""capture_audit, acting_as, frozen_clock and redis_server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import meshsec.testing
from meshsec import audit, correlation
from meshsec.context import current_security_context
from meshsec.errors import ConfigError
from meshsec.identity import InvalidSpiffeId
from meshsec.policy import AccessDenied, Engine, PolicySet, check, require_scopes, use_authorizer
from meshsec.stores import StoreDependencyMissing, StoreUnavailable
from meshsec.testing import (
    AuditLog,
    RedisServer,
    RedisServerFailed,
    RedisServerNotFound,
    TestMesh,
    acting_as,
    capture_audit,
    frozen_clock,
)
from meshsec.testing._redis import redis_binary
from tests.api import assert_all_is_public, assert_raised_errors_exported

# -- capture_audit ----------------------------------------------------------


def _emit_three() -> None:
    audit.record("token", "token.verify", "failure", reason="token.expired")
    audit.record("authorization", "policy.decide", "denied", reason="policy.denied")
    audit.record("token", "token.issue", "success")


def test_capture_collects_and_filters() -> None:
    with capture_audit() as log:
        _emit_three()
    assert len(log) == 3
    assert log.reasons == ["token.expired", "policy.denied"]
    assert log.actions == ["token.verify", "policy.decide", "token.issue"]
    assert len(log.of(category="TOKEN")) == 2
    assert len(log.of(category=audit.Category.TOKEN, outcome="success")) == 1
    assert log.of(outcome=audit.Outcome.DENIED)[0].reason == "policy.denied"
    assert isinstance(log[1:], AuditLog)
    assert len(log[1:]) == 2
    assert log == list(log)
    assert log != "x"


def test_capture_sees_events_from_threads_and_stays_readable() -> None:
    with capture_audit() as log:
        worker = threading.Thread(target=_emit_three)
        worker.start()
        worker.join()
    audit.record("token", "after", "success")
    assert len(log) == 3


def test_assert_emitted_exactly_once_by_default() -> None:
    with capture_audit() as log:
        _emit_three()
        audit.record("token", "token.verify", "failure", reason="token.expired")
    with pytest.raises(AssertionError, match="expected 1 audit event"):
        log.assert_emitted(reason="token.expired")
    assert len(log.assert_emitted(reason="token.expired", count=2)) == 2
    assert log.assert_emitted(reason="token.expired", count=None)
    log.assert_emitted(category="authorization", outcome="denied")


def test_assert_emitted_lists_what_was_captured() -> None:
    with capture_audit() as log:
        audit.record("token", "token.verify", "failure", reason="token.bad_signature")
    with pytest.raises(AssertionError) as caught:
        log.assert_emitted(reason="token.expired")
    assert "token/token.verify/failure reason=token.bad_signature" in str(caught.value)


def test_assert_not_emitted() -> None:
    with capture_audit() as log:
        _emit_three()
    log.assert_not_emitted(reason="token.revoked")
    with pytest.raises(AssertionError, match="expected 0"):
        log.assert_not_emitted(category="authorization")


def test_capture_keeps_configured_sinks() -> None:
    received: list[audit.SecurityEvent] = []

    class Sink:
        def emit(self, event: audit.SecurityEvent) -> None:
            received.append(event)

    previous = audit.configure(Sink())
    try:
        with capture_audit() as log:
            _emit_three()
    finally:
        audit.configure(*previous)
    assert len(received) == len(log) == 3


def test_captured_events_are_redacted() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    with capture_audit() as log:
        audit.record("token", "leak", "failure", attributes={"token": secret})
    assert secret not in repr(log)
    assert secret not in repr(list(log))


# -- acting_as --------------------------------------------------------------

POLICY = PolicySet.from_dict(
    {
        "version": 1,
        "rules": [
            {
                "id": "web-reads",
                "effect": "allow",
                "principals": ["spiffe://test.example/web"],
                "actions": ["read"],
                "resources": ["*"],
            }
        ],
    }
)


def test_acting_as_sets_and_restores_the_caller() -> None:
    with acting_as("alice", scopes="a b", claims={"tenant": "t1"}) as ctx:
        assert current_security_context() is ctx
        assert ctx.principal == "alice"
        assert ctx.scopes == {"a", "b"}
        assert dict(ctx.claims) == {"tenant": "t1"}
    assert not current_security_context().authenticated


def test_acting_as_a_workload_drives_policy() -> None:
    with TestMesh() as mesh, use_authorizer(Engine(POLICY)):
        with acting_as(peer_id=mesh.workload("web")):
            assert check("read").allowed
        with acting_as(peer_id="spiffe://test.example/batch"), pytest.raises(AccessDenied):
            check("read")


def test_acting_as_with_scopes_for_require_scopes() -> None:
    @require_scopes("orders:write")
    def write() -> str:
        return "written"

    with acting_as("alice", scopes=["orders:write"]):
        assert write() == "written"
    with acting_as("alice", scopes=["orders:read"]), pytest.raises(AccessDenied):
        write()


@pytest.mark.parametrize("bad", ["web", "https://test.example/web", "spiffe://"])
def test_acting_as_refuses_a_peer_id_no_handshake_could_prove(bad: str) -> None:
    with pytest.raises(InvalidSpiffeId), acting_as(peer_id=bad):
        pass
    assert not current_security_context().authenticated


def test_acting_as_refuses_odd_principal() -> None:
    with pytest.raises(ConfigError), acting_as(42):  # type: ignore[arg-type]
        pass


def test_acting_as_peer_alone_is_the_principal() -> None:
    with acting_as(peer_id="spiffe://test.example/web") as ctx:
        assert ctx.principal == ctx.peer_id == "spiffe://test.example/web"
    with acting_as("alice", peer_id="spiffe://test.example/web") as ctx:
        assert ctx.principal == "alice"


def test_acting_as_carries_the_bound_correlation() -> None:
    with correlation.scope() as bound, acting_as("alice") as ctx:
        assert ctx.correlation is bound


def test_acting_as_restores_after_an_error() -> None:
    with pytest.raises(RuntimeError), acting_as("alice"):
        raise RuntimeError
    assert current_security_context().principal is None


# -- frozen_clock -----------------------------------------------------------


def test_frozen_clock_defaults_to_now_to_the_second() -> None:
    clock = frozen_clock()
    now = datetime.now(UTC).timestamp()
    assert clock() == int(clock())
    assert now - 2 < clock() <= now


@pytest.mark.parametrize(
    "start",
    [1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "2023-11-14T22:13:20Z"],
)
def test_frozen_clock_start_forms(start: object) -> None:
    clock = frozen_clock(start)  # type: ignore[arg-type]
    assert clock() == 1_700_000_000
    clock.advance(timedelta(seconds=5))
    assert clock() == 1_700_000_005


@given(st.datetimes(timezones=st.timezones(), allow_imaginary=False))
def test_frozen_clock_iso_round_trip(when: datetime) -> None:
    assert frozen_clock(when.isoformat())() == frozen_clock(when)() == when.timestamp()


@pytest.mark.parametrize("bad", ["2023-11-14T22:13:20", "yesterday", datetime(2023, 1, 1)])
def test_frozen_clock_refuses_naive_or_garbage(bad: object) -> None:
    with pytest.raises(ConfigError):
        frozen_clock(bad)  # type: ignore[arg-type]


# -- redis_server -----------------------------------------------------------


def test_missing_binary_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisServerNotFound) as caught:
        RedisServer()
    assert isinstance(caught.value, StoreDependencyMissing)
    assert "apt-get install redis-server" in caught.value.message


def test_server_that_never_answers_is_a_typed_error(tmp_path: object) -> None:
    from pathlib import Path

    fake = Path(str(tmp_path)) / "redis-server"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    server = RedisServer(str(fake))
    try:
        with pytest.raises(RedisServerFailed) as caught:
            server.start(timeout=0.5)
        assert isinstance(caught.value, StoreUnavailable)
    finally:
        server.close()


@pytest.mark.skipif(redis_binary() is None, reason="redis-server binary not found on PATH")
def test_stores_of_one_server_are_isolated_and_loopback_only() -> None:
    with meshsec.testing.redis_server() as server, server.store() as a, server.store() as b:
        assert server.url.startswith("redis://127.0.0.1:")
        a.set("k", b"from a", ttl=5)
        assert b.get("k") is None
        assert a.get("k") == b"from a"
        assert "running" in repr(server)
    assert "stopped" in repr(server)


@pytest.mark.skipif(redis_binary() is None, reason="redis-server binary not found on PATH")
def test_restart_on_the_same_port() -> None:
    with meshsec.testing.redis_server() as server:
        port = server.port
        server.stop()
        server.start(same_port=True)
        assert server.port == port
        with server.client() as raw:
            assert raw.ping()


# -- the package ------------------------------------------------------------


def test_all_is_public() -> None:
    assert_all_is_public(meshsec.testing)


def test_raised_errors_exported() -> None:
    assert_raised_errors_exported(meshsec.testing)


def test_imports_without_pytest() -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pytest' or name.startswith(('pytest.', '_pytest')):\n"
        "            raise ImportError('pytest is not installed')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import meshsec.testing\n"
        "with meshsec.testing.TestMesh() as mesh:\n"
        "    mesh.token('alice', 'api')\n"
        "assert not any(m == 'pytest' or m.startswith('_pytest') for m in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocker],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert done.returncode == 0, done.stderr
