"""Refresh-token rotation and reuse detection over MemoryStore and a real RedisStore."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import meshsec.tokens
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError, TokenError
from meshsec.secret import Secret
from meshsec.stores import MemoryStore, RedisStore, Store, StoreCorrupted
from meshsec.tokens import (
    RefreshFamily,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
    RefreshTokens,
)
from tests.redis_server import RedisServer, running_redis

NOW = 1_700_000_000.0
IDLE = timedelta(hours=1)
ABSOLUTE = timedelta(days=1)
_prefixes = itertools.count()


class RecordingStore:
    """Wraps a store and keeps every key and value written, to check what is stored."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.written: list[tuple[str, bytes]] = []

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self.written.append((key, value))
        self.inner.set(key, value, ttl=ttl)

    def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        self.written.append((key, value))
        return self.inner.set_if_absent(key, value, ttl=ttl)

    def compare_and_set(self, key: str, expected: bytes, new: bytes, *, ttl: float) -> bool:
        self.written.append((key, new))
        return self.inner.compare_and_set(key, expected, new, ttl=ttl)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, clock: FrozenClock) -> Iterator[RecordingStore]:
    if request.param == "memory":
        yield RecordingStore(MemoryStore(clock=clock))
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    with RedisStore(url=server.url, prefix=f"rt{next(_prefixes)}:") as redis_store:
        yield RecordingStore(redis_store)


@pytest.fixture
def refresh(store: RecordingStore, clock: FrozenClock) -> RefreshTokens:
    return RefreshTokens(store, idle_ttl=IDLE, absolute_ttl=ABSOLUTE, clock=clock)


def test_issue_returns_a_secret_token_and_family(refresh: RefreshTokens) -> None:
    token, family = refresh.issue("alice", client_id="web", scopes=["read", "write", "read"])
    assert isinstance(token, Secret)
    assert token.reveal().startswith("msr1_")
    assert family.subject == "alice"
    assert family.client_id == "web"
    assert family.scopes == frozenset({"read", "write"})
    assert family.generation == 0
    assert family.expires_at.timestamp() == NOW + ABSOLUTE.total_seconds()
    assert family.idle_expires_at.timestamp() == NOW + IDLE.total_seconds()


def test_tokens_carry_at_least_256_random_bits(refresh: RefreshTokens) -> None:
    tokens = {refresh.issue("alice")[0].reveal() for _ in range(50)}
    assert len(tokens) == 50
    body = next(iter(tokens)).removeprefix("msr1_")
    assert len(body) * 6 >= 256


def test_token_never_in_repr(refresh: RefreshTokens) -> None:
    issued = refresh.issue("alice")
    token = issued[0].reveal()
    for text in (repr(issued), str(issued), repr(issued[1]), repr(refresh), f"{issued[0]}"):
        assert token not in text
        assert token.removeprefix("msr1_")[:10] not in text


def test_store_holds_only_hashes(refresh: RefreshTokens, store: RecordingStore) -> None:
    token, _ = refresh.issue("alice")
    new, _ = refresh.rotate(token)
    written = b" ".join(key.encode() + b"=" + value for key, value in store.written)
    for secret in (token.reveal(), new.reveal()):
        assert secret.encode() not in written
        assert secret.removeprefix("msr1_").encode()[:16] not in written


def test_rotate_returns_a_fresh_token(refresh: RefreshTokens, clock: FrozenClock) -> None:
    token, family = refresh.issue("alice", scopes=["read"])
    clock.advance(10)
    new, rotated = refresh.rotate(token)
    assert new != token
    assert rotated.family_id == family.family_id
    assert rotated.generation == 1
    assert rotated.scopes == frozenset({"read"})
    assert rotated.idle_expires_at.timestamp() == NOW + 10 + IDLE.total_seconds()


def test_rotate_accepts_plain_str(refresh: RefreshTokens) -> None:
    token, _ = refresh.issue("alice")
    _, family = refresh.rotate(token.reveal())
    assert family.generation == 1


def test_a_chain_of_rotations(refresh: RefreshTokens, clock: FrozenClock) -> None:
    token, _ = refresh.issue("alice")
    for generation in range(1, 6):
        clock.advance(IDLE.total_seconds() / 2)
        token, family = refresh.rotate(token)
        assert family.generation == generation


def test_attack_refresh_token_reuse_revokes_the_family(refresh: RefreshTokens) -> None:
    stolen, _ = refresh.issue("alice")
    legitimate, _ = refresh.rotate(stolen)
    with pytest.raises(RefreshTokenReused) as info:
        refresh.rotate(stolen)
    assert info.value.code == "token.refresh_reused"
    # The legitimate holder's newer token is dead too: both parties must sign in again.
    with pytest.raises(RefreshTokenRevoked):
        refresh.rotate(legitimate)
    with pytest.raises(RefreshTokenRevoked):
        refresh.rotate(stolen)


def test_attack_reuse_after_legitimate_rotation_chain(refresh: RefreshTokens) -> None:
    first, _ = refresh.issue("alice")
    second, _ = refresh.rotate(first)
    third, _ = refresh.rotate(second)
    with pytest.raises(RefreshTokenReused):
        refresh.rotate(first)
    with pytest.raises(RefreshTokenRevoked):
        refresh.rotate(third)


def test_attack_reuse_does_not_touch_other_families(refresh: RefreshTokens) -> None:
    alice, _ = refresh.issue("alice")
    bob, _ = refresh.issue("bob")
    refresh.rotate(alice)
    with pytest.raises(RefreshTokenReused):
        refresh.rotate(alice)
    _, family = refresh.rotate(bob)
    assert family.subject == "bob"


def test_attack_forged_well_formed_token_is_unknown(refresh: RefreshTokens) -> None:
    token, family = refresh.issue("alice")
    forged = "msr1_" + "A" * 43
    with pytest.raises(RefreshTokenInvalid) as info:
        refresh.rotate(forged)
    assert type(info.value) is RefreshTokenInvalid
    # A forged token cannot revoke someone else's family.
    _, rotated = refresh.rotate(token)
    assert rotated.family_id == family.family_id


@pytest.mark.parametrize(
    "bad",
    ["", "msr1_", "msr1_" + "A" * 42, "msr1_" + "A" * 44, "msr2_" + "A" * 43,
     "msr1_" + "A" * 42 + "=", "msr1_" + "A" * 42 + "\n", None, 42, b"msr1_" + b"A" * 43,
     Secret(b"msr1_" + b"A" * 43)],
)  # fmt: skip
def test_attack_malformed_token_rejected(refresh: RefreshTokens, bad: object) -> None:
    with pytest.raises(RefreshTokenInvalid):
        refresh.rotate(bad)  # type: ignore[arg-type]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(garbage=st.one_of(st.text(max_size=80), st.text(max_size=43).map(lambda s: "msr1_" + s)))
def test_arbitrary_strings_raise_only_refresh_errors(refresh: RefreshTokens, garbage: str) -> None:
    with pytest.raises(RefreshTokenInvalid):
        refresh.rotate(garbage)


def test_idle_lifetime_enforced(refresh: RefreshTokens, clock: FrozenClock) -> None:
    token, _ = refresh.issue("alice")
    clock.advance(IDLE.total_seconds() + 1)
    with pytest.raises(RefreshTokenExpired) as info:
        refresh.rotate(token)
    assert info.value.code == "token.refresh_expired"


def test_idle_lifetime_just_inside(refresh: RefreshTokens, clock: FrozenClock) -> None:
    token, _ = refresh.issue("alice")
    clock.advance(IDLE.total_seconds() - 1)
    refresh.rotate(token)


def test_absolute_lifetime_enforced_despite_rotation(
    refresh: RefreshTokens, clock: FrozenClock
) -> None:
    token, _ = refresh.issue("alice")
    steps = int(ABSOLUTE / (IDLE / 2))
    for _ in range(steps - 1):
        clock.advance(IDLE.total_seconds() / 2)
        token, family = refresh.rotate(token)
        assert family.idle_expires_at <= family.expires_at
    clock.advance(IDLE.total_seconds() / 2)
    with pytest.raises(RefreshTokenExpired):
        refresh.rotate(token)


def test_long_after_expiry_the_token_is_unknown(clock: FrozenClock) -> None:
    refresh = RefreshTokens(idle_ttl=IDLE, absolute_ttl=ABSOLUTE, clock=clock)
    token, _ = refresh.issue("alice")
    clock.advance(ABSOLUTE.total_seconds() + 2 * 3600)
    with pytest.raises(RefreshTokenInvalid):
        refresh.rotate(token)


def test_revoke_family(refresh: RefreshTokens) -> None:
    token, family = refresh.issue("alice")
    assert refresh.revoke_family(family.family_id) is True
    assert refresh.revoke_family(family.family_id) is False
    with pytest.raises(RefreshTokenRevoked) as info:
        refresh.rotate(token)
    assert info.value.code == "token.refresh_revoked"


@pytest.mark.parametrize("family_id", ["", "nope", "A" * 22, None, "rt:f:x" * 4])
def test_revoke_unknown_family_is_false(refresh: RefreshTokens, family_id: object) -> None:
    assert refresh.revoke_family(family_id) is False  # type: ignore[arg-type]


def test_revoke_by_token(refresh: RefreshTokens) -> None:
    token, _ = refresh.issue("alice")
    newer, _ = refresh.rotate(token)
    assert refresh.revoke(newer) is True
    assert refresh.revoke("msr1_" + "B" * 43) is False
    assert refresh.revoke("garbage") is False
    with pytest.raises(RefreshTokenRevoked):
        refresh.rotate(newer)


def test_attack_concurrent_rotation_has_one_winner(refresh: RefreshTokens) -> None:
    token, _ = refresh.issue("alice")
    contenders = 6
    barrier = threading.Barrier(contenders)
    won: list[Secret[str]] = []
    failed: list[Exception] = []

    def run() -> None:
        barrier.wait()
        try:
            won.append(refresh.rotate(token)[0])
        except RefreshTokenInvalid as exc:
            failed.append(exc)

    threads = [threading.Thread(target=run) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert len(failed) == contenders - 1
    assert any(isinstance(exc, RefreshTokenReused) for exc in failed)
    with pytest.raises(RefreshTokenRevoked):
        refresh.rotate(won[0])


@pytest.mark.parametrize(
    "kwargs",
    [{"subject": ""}, {"subject": None}, {"subject": "x" * 2000},
     {"subject": "a", "client_id": ""}, {"subject": "a", "scopes": "read"},
     {"subject": "a", "scopes": ["has space"]}, {"subject": "a", "scopes": ['q"uote']},
     {"subject": "a", "scopes": [""]}, {"subject": "a", "scopes": [1]}],
)  # fmt: skip
def test_bad_issue_arguments_rejected_nothing_written(
    refresh: RefreshTokens, store: RecordingStore, kwargs: dict[str, object]
) -> None:
    kwargs = dict(kwargs)  # parameters are shared between the two stores
    subject = kwargs.pop("subject")
    with pytest.raises(ConfigError):
        refresh.issue(subject, **kwargs)  # type: ignore[arg-type]
    assert store.written == []


@pytest.mark.parametrize(
    ("idle", "absolute"),
    [(0, 10), (-1, 10), (20, 10), (timedelta(0), timedelta(days=1)), (True, 10), ("1", 10),
     (1, float("inf")), (1, 1e12)],
)  # fmt: skip
def test_bad_lifetimes_rejected(idle: object, absolute: object) -> None:
    with pytest.raises(ConfigError):
        RefreshTokens(idle_ttl=idle, absolute_ttl=absolute)  # type: ignore[arg-type]


def test_corrupted_family_record_fails_closed(clock: FrozenClock) -> None:
    memory = MemoryStore(clock=clock)
    refresh = RefreshTokens(memory, clock=clock)
    token, family = refresh.issue("alice")
    memory.set("rt:f:" + family.family_id, b"{not json", ttl=60)
    with pytest.raises(StoreCorrupted):
        refresh.rotate(token)


def test_errors_are_token_errors_with_stable_codes() -> None:
    expected = {
        RefreshTokenInvalid: "token.refresh_invalid",
        RefreshTokenExpired: "token.refresh_expired",
        RefreshTokenReused: "token.refresh_reused",
        RefreshTokenRevoked: "token.refresh_revoked",
    }
    for cls, code in expected.items():
        assert issubclass(cls, TokenError)
        assert issubclass(cls, RefreshTokenInvalid)
        assert cls.code == code
        assert cls.__name__ in meshsec.tokens.__all__
    assert "RefreshTokens" in meshsec.tokens.__all__
    assert "RefreshFamily" in meshsec.tokens.__all__
    assert meshsec.tokens.RefreshFamily is RefreshFamily
