"""Two processes race to rotate the same refresh token through Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from meshsec.stores import RedisStore, StoreUnavailable
from meshsec.tokens import RefreshTokenRevoked, RefreshTokens
from tests.redis_server import RedisServer, running_redis

ROUNDS = 15

# Each child announces itself, then for every round blocks until the parent
# releases both children at once (BLPOP), and rotates that round's token.
_CHILD = """
import json, sys
import redis
from meshsec.stores import RedisStore
from meshsec.tokens import RefreshTokens, RefreshTokenInvalid
url, name, tokens = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
raw = redis.Redis.from_url(url)
with RedisStore(url=url, prefix="race:") as store:
    refresh = RefreshTokens(store)
    raw.incr("race-ready")
    results = []
    for i, token in enumerate(tokens):
        raw.blpop([f"race-go:{i}"], timeout=30)
        try:
            new, _ = refresh.rotate(token)
            results.append(["won", new.reveal()])
        except RefreshTokenInvalid as exc:
            results.append([exc.code, None])
raw.close()
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def _start_child(url: str, name: str, tokens: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, name, json.dumps(tokens)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_rounds(raw: redis.Redis, children: list[subprocess.Popen[str]]) -> list[Any]:
    deadline = time.monotonic() + 30
    while int(raw.get("race-ready") or 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(ROUNDS):
        raw.rpush(f"race-go:{i}", 1, 1)  # release both children together
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


def test_attack_two_processes_rotating_one_token_one_wins_family_revoked(
    redis_server: RedisServer,
) -> None:
    with RedisStore(url=redis_server.url, prefix="race:") as store, redis_server.client() as raw:
        refresh = RefreshTokens(store)
        tokens = [refresh.issue(f"user{i}")[0].reveal() for i in range(ROUNDS)]
        children = [_start_child(redis_server.url, name, tokens) for name in ("a", "b")]
        try:
            outputs = _run_rounds(raw, children)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.communicate()
        for i in range(ROUNDS):
            results = [outputs[0][i], outputs[1][i]]
            outcomes = sorted(outcome for outcome, _ in results)
            assert outcomes == ["token.refresh_reused", "won"], outcomes
            winner_token = next(token for outcome, token in results if outcome == "won")
            # The loser's reuse revoked the family: the winner's new token is dead.
            with pytest.raises(RefreshTokenRevoked):
                refresh.rotate(winner_token)


def test_redis_stopped_mid_test_fails_closed() -> None:
    with running_redis() as server, RedisStore(url=server.url) as store:
        refresh = RefreshTokens(store)
        token, family = refresh.issue("alice")
        token, family = refresh.rotate(token)
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            refresh.rotate(token)
        assert info.value.code == "store.unavailable"
        assert time.monotonic() - started < 5
        with pytest.raises(StoreUnavailable):
            refresh.issue("bob")
        with pytest.raises(StoreUnavailable):
            refresh.revoke_family(family.family_id)
        with pytest.raises(StoreUnavailable):
            store.get("anything")
