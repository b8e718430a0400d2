"""Refresh-token rotation with reuse detection, and a revocation list.

Runs on the in-memory store; set REDIS_URL (for example
redis://127.0.0.1:6379/0) to run the same code on Redis.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from meshsec.stores import MemoryStore, RedisStore, Store
from meshsec.tokens import RefreshTokenReused, RefreshTokenRevoked, RefreshTokens, RevocationList


def open_store() -> Store:
    url = os.environ.get("REDIS_URL")
    return RedisStore(url=url, prefix="example:") if url else MemoryStore()


def main() -> None:
    store = open_store()
    print("store:", store)
    refresh = RefreshTokens(store, idle_ttl=timedelta(hours=8), absolute_ttl=timedelta(days=30))

    token, family = refresh.issue("alice", client_id="web-app", scopes=["orders:read"])
    print("issued", token, "family", family.family_id, "generation", family.generation)

    # The client uses its refresh token: it gets a new one, the old one is spent.
    stolen = token.reveal()
    token, family = refresh.rotate(stolen)
    print("rotated; generation", family.generation)

    # An attacker who copied the old token replays it: reuse is detected...
    try:
        refresh.rotate(stolen)
    except RefreshTokenReused as exc:
        print("replay refused:", exc.code)
    # ...and the whole family is revoked, so the stolen lineage is worthless.
    try:
        refresh.rotate(token)
    except RefreshTokenRevoked as exc:
        print("family revoked:", exc.code)

    # Access-token revocation by jti, until the token would expire anyway.
    revocations = RevocationList(store)
    revocations.revoke("jti-4f1c", until=time.time() + 300 + 30)
    print("jti-4f1c revoked:", revocations.is_revoked("jti-4f1c"))
    print("one-time use:", revocations.consume_once("otp-1", until=time.time() + 60),
          "then", revocations.consume_once("otp-1", until=time.time() + 60))  # fmt: skip

    if isinstance(store, RedisStore):
        store.close()


if __name__ == "__main__":
    main()
