"""Red-team: refresh-token rotation under races, lifetime edges and store failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.secret import Secret
from meshsec.stores import MemoryStore, RedisStore, Store, StoreUnavailable
from meshsec.tokens import (
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokens,
)
from tests.redis_server import running_redis

IDLE = timedelta(hours=1)
ABSOLUTE = timedelta(hours=5)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_700_000_000)


@pytest.fixture
def refresh(clock: FrozenClock) -> RefreshTokens:
    return RefreshTokens(
        MemoryStore(clock=clock), idle_ttl=IDLE, absolute_ttl=ABSOLUTE, clock=clock
    )


class FailingStore:
    """A MemoryStore that raises StoreUnavailable on the chosen operation, once armed."""

    def __init__(self, inner: Store, operation: str, before: Callable[[], None] | None = None):
        self.inner = inner
        self.operation = operation
        self.armed = False
        self.before = before

    def _maybe_fail(self, name: str) -> None:
        if self.armed and name == self.operation:
            self.armed = False
            if self.before is not None:
                self.before()
                return
            raise StoreUnavailable("injected outage")

    def get(self, key: str) -> bytes | None:
        self._maybe_fail("get")
        return self.inner.get(key)

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._maybe_fail("set")
        self.inner.set(key, value, ttl=ttl)

    def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        self._maybe_fail("set_if_absent")
        return self.inner.set_if_absent(key, value, ttl=ttl)

    def compare_and_set(self, key: str, expected: bytes, new: bytes, *, ttl: float) -> bool:
        self._maybe_fail("compare_and_set")
        return self.inner.compare_and_set(key, expected, new, ttl=ttl)

    def delete(self, key: str) -> bool:
        self._maybe_fail("delete")
        return self.inner.delete(key)


# -- races ----------------------------------------------------------------------------


def test_race_between_current_and_spent_token_revokes_the_family(refresh: RefreshTokens) -> None:
    spent, _ = refresh.issue("alice")
    current, _ = refresh.rotate(spent)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def run(token: Secret[str]) -> None:
        barrier.wait()
        try:
            results.append(refresh.rotate(token)[0])
        except RefreshTokenInvalid as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in [spent, current] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if isinstance(r, Secret)]
    assert len(winners) <= 1
    assert any(isinstance(r, RefreshTokenReused) for r in results)
    # Whatever interleaving happened, nothing of the family is usable any more.
    for token in [spent, current, *winners]:
        with pytest.raises(RefreshTokenInvalid):
            refresh.rotate(token)  # type: ignore[arg-type]


def test_many_families_rotated_concurrently_do_not_interfere(refresh: RefreshTokens) -> None:
    tokens = [refresh.issue(f"user-{i}")[0] for i in range(16)]
    errors: list[BaseException] = []

    def chain(token: Secret[str]) -> None:
        try:
            for _ in range(20):
                token, _ = refresh.rotate(token)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=chain, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# -- lifetime edges -----------------------------------------------------------------------


def test_idle_lifetime_edge_exact(refresh: RefreshTokens, clock: FrozenClock) -> None:
    token, family = refresh.issue("alice")
    assert family.idle_expires_at.timestamp() == clock() + IDLE.total_seconds()
    clock.advance(IDLE.total_seconds() - 0.001)
    token, family = refresh.rotate(token)
    clock.advance(IDLE.total_seconds())
    with pytest.raises(RefreshTokenExpired):
        refresh.rotate(token)


def test_absolute_lifetime_edge_exact_and_idle_capped(
    refresh: RefreshTokens, clock: FrozenClock
) -> None:
    token, first = refresh.issue("alice")
    end = first.expires_at.timestamp()
    while clock() + IDLE.total_seconds() < end:
        clock.advance(IDLE.total_seconds() - 1)
        token, family = refresh.rotate(token)
        assert family.expires_at.timestamp() == end  # rotation never extends the family
        assert family.idle_expires_at.timestamp() <= end
    clock.set(end - 0.001)
    token, family = refresh.rotate(token)
    assert family.idle_expires_at.timestamp() == end
    clock.set(end)
    with pytest.raises(RefreshTokenExpired):
        refresh.rotate(token)


def test_expired_token_is_left_expired_not_revived_by_the_clock_going_back(
    refresh: RefreshTokens, clock: FrozenClock
) -> None:
    token, _ = refresh.issue("alice")
    clock.advance(IDLE.total_seconds())
    with pytest.raises(RefreshTokenExpired):
        refresh.rotate(token)
    # The failure spent nothing: an honest client whose clock was ahead is not
    # reported as a thief.
    clock.advance(-1)
    assert refresh.rotate(token)[1].generation == 1


# -- failures: one event each, no token text, no state change ------------------------------


def test_each_refresh_failure_is_audited_once_without_the_token(
    refresh: RefreshTokens, clock: FrozenClock
) -> None:
    live, _ = refresh.issue("alice", client_id="app")
    spent, _ = refresh.issue("bob")
    refresh.rotate(spent)
    revoked, _ = refresh.issue("carol")
    refresh.revoke(revoked)
    idle, _ = refresh.issue("dave")
    cases: list[tuple[Callable[[], object], str, str]] = [
        (lambda: refresh.rotate("msr1_" + "A" * 43), "token.refresh_invalid", "A" * 43),
        (
            lambda: refresh.rotate("zzzzzQUUXgarbage0123456789"),
            "token.refresh_invalid",
            "zzzzzQUUXgarbage0123456789",
        ),
        (lambda: refresh.rotate(live, client_id="evil"), "token.refresh_invalid", live.reveal()),
        (lambda: refresh.rotate(revoked), "token.refresh_revoked", revoked.reveal()),
        (lambda: refresh.rotate(spent), "token.refresh_reused", spent.reveal()),
    ]
    for call, code, secret in cases:
        with audit.capture() as events, pytest.raises(RefreshTokenInvalid) as info:
            call()
        assert info.value.code == code
        failures = [e for e in events if e.reason is not None]
        assert [e.reason for e in failures] == [code]
        assert secret[5:25] not in repr(events) + str(info.value)
    clock.advance(IDLE.total_seconds())
    with audit.capture() as events, pytest.raises(RefreshTokenExpired):
        refresh.rotate(idle)
    assert [e.reason for e in events] == ["token.refresh_expired"]
    # The refused other-client attempt left alice's token usable.
    clock.advance(-IDLE.total_seconds())
    assert refresh.rotate(live, client_id="app")[1].generation == 1


@pytest.mark.parametrize("operation", ["get", "set", "compare_and_set"])
def test_store_outage_mid_rotate_fails_closed_and_keeps_the_token(
    clock: FrozenClock, operation: str
) -> None:
    store = FailingStore(MemoryStore(clock=clock), operation)
    refresh = RefreshTokens(store, idle_ttl=IDLE, absolute_ttl=ABSOLUTE, clock=clock)
    token, _ = refresh.issue("alice")
    store.armed = True
    with pytest.raises(StoreUnavailable):
        refresh.rotate(token)
    # No successor was handed out, so the same token must still rotate once.
    new, family = refresh.rotate(token)
    assert family.generation == 1
    assert refresh.rotate(new)[1].generation == 2


def test_redis_killed_mid_rotate_gives_store_unavailable_quickly() -> None:
    with running_redis() as server:
        inner = RedisStore(url=server.url, prefix="kill:")
        store = FailingStore(inner, "compare_and_set", before=server.stop)
        try:
            refresh = RefreshTokens(store)
            token, _ = refresh.issue("alice")
            store.armed = True  # the server dies between writing the successor and the swap
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                refresh.rotate(token)
            assert time.monotonic() - started < 5
        finally:
            inner.close()


def test_revoking_an_unknown_token_is_audited_as_a_revoke_not_a_rotate(
    refresh: RefreshTokens,
) -> None:
    for bogus in ("msr1_" + "A" * 43, "garbage"):
        with audit.capture() as events:
            assert refresh.revoke(bogus) is False
        assert [(e.action, e.reason) for e in events] == [
            ("refresh.revoke", "token.refresh_invalid")
        ]
