"""A revocation made in one process is seen by another through Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from meshsec.stores import RedisStore
from meshsec.tokens import RevocationList
from tests.redis_server import RedisServer, running_redis

_CHILD = """
import sys, time
from meshsec.stores import RedisStore
from meshsec.tokens import RevocationList
action, url, jti = sys.argv[1:4]
with RedisStore(url=url, prefix="proc:") as store:
    revocations = RevocationList(store)
    if action == "revoke":
        revocations.revoke(jti, time.time() + 60)
        print("revoked")
    elif action == "check":
        print("revoked" if revocations.is_revoked(jti) else "valid")
    elif action == "consume":
        print("first" if revocations.consume_once(jti, time.time() + 60) else "replay")
"""


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def child(action: str, url: str, jti: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, action, url, jti],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_revocation_in_another_process_is_seen_here(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="proc:") as store:
        revocations = RevocationList(store)
        assert not revocations.is_revoked("stolen-token")
        assert child("revoke", redis_server.url, "stolen-token") == "revoked"
        assert revocations.is_revoked("stolen-token")


def test_revocation_here_is_seen_by_another_process(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="proc:") as store:
        RevocationList(store).revoke("leaked", time.time() + 60)
    assert child("check", redis_server.url, "leaked") == "revoked"
    assert child("check", redis_server.url, "fine") == "valid"


def test_attack_replay_in_another_process_detected(redis_server: RedisServer) -> None:
    with RedisStore(url=redis_server.url, prefix="proc:") as store:
        assert RevocationList(store).consume_once("one-time", time.time() + 60)
    assert child("consume", redis_server.url, "one-time") == "replay"
