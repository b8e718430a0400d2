"""RedisStore and RevocationList round trips against raw redis-py on loopback.

Starts its own redis-server on 127.0.0.1 (random port, no persistence) and
skips with a message when the binary is absent. Each figure is meshsec's
operation timed in alternating rounds next to the raw redis-py command it
wraps, so the ratio is meshsec's overhead over the network round trip.
"""

from __future__ import annotations

import time

from benchmarks._harness import compare, row
from meshsec.stores import RedisStore
from meshsec.tokens import RevocationList
from tests.redis_server import RedisServer, redis_binary


def main() -> None:
    binary = redis_binary()
    if binary is None:
        print("  skipped: redis-server not found on PATH (apt-get install redis-server)")
        return
    server = RedisServer(binary)
    server.start()
    try:
        _run(server)
    finally:
        server.close()


def _run(server: RedisServer) -> None:
    with RedisStore(url=server.url, prefix="bench:") as store, server.client() as raw:
        revocations = RevocationList(store)
        revocations.revoke("revoked-jti", time.time() + 3600)
        store.set("k", b"v" * 32, ttl=3600)
        cas = raw.register_script("return redis.call('GET', KEYS[1]) == ARGV[1] and 1 or 0")

        figure = compare(lambda: revocations.is_revoked("some-jti"), lambda: raw.exists("x"))
        print(row("RevocationList.is_revoked (RedisStore)", figure,
                  target="<= 1.3x", raw_name="redis-py EXISTS"))  # fmt: skip
        with RevocationList(store, cache_max_staleness=2.0) as cached:
            if cached._mirror is not None and cached._mirror.wait_fresh(5):
                figure = compare(lambda: cached.is_revoked("some-jti"), lambda: raw.exists("x"))
                print(row("RevocationList.is_revoked, pub/sub cache", figure,
                          target="<= 0.05x", raw_name="redis-py EXISTS"))  # fmt: skip
        figure = compare(lambda: store.get("k"), lambda: raw.get("bench:k"))
        print(row("RedisStore.get", figure, target="<= 1.15x", raw_name="redis-py GET"))
        figure = compare(
            lambda: store.set_if_absent("k", b"v", ttl=60),
            lambda: raw.set("bench:k", b"v", px=60_000, nx=True),
        )
        print(row("RedisStore.set_if_absent", figure,
                  target="<= 1.15x", raw_name="redis-py SET NX PX"))  # fmt: skip
        figure = compare(
            lambda: store.compare_and_set("k", b"x", b"y", ttl=60),
            lambda: cas(keys=["bench:k"], args=[b"x"]),
        )
        print(row("RedisStore.compare_and_set", figure,
                  target="<= 1.2x", raw_name="redis-py EVALSHA"))  # fmt: skip


if __name__ == "__main__":
    main()
