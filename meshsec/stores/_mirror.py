"""A local, self-healing copy of one key namespace of a RedisStore.

Redis pub/sub delivers each message at most once: a subscriber that is
disconnected, even for a moment, silently misses what was published
meanwhile. So the mirror never trusts the stream alone:

- it subscribes first and then reads the whole namespace (``SCAN``), so a
  change made during the scan is either in the scan or in the stream;
- every (re)subscription, including redis-py's silent reconnects (the server
  confirms each one with a ``subscribe`` message), triggers that full resync;
- a heartbeat ``PING`` on the subscription proves it is alive; when nothing
  has arrived for ``max_staleness`` seconds the mirror reports itself stale
  and callers ask the store directly until a resync completes.

A change message carries only the key; the mirror then reads the key's
current value and TTL from Redis, so late or reordered messages cannot
install a stale value.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

__all__ = ["RedisMirror"]

_SCAN_BATCH = 500
_RESYNC_EVERY = 300.0
_MIN_RETRY = 0.05
_MAX_RETRY = 1.0


class RedisMirror:
    """Keys under one namespace of a RedisStore, copied into this process.

    Build it with :meth:`RedisStore.mirror`; writers announce changes with
    :meth:`RedisStore.notify`. :meth:`lookup` answers from memory while the
    mirror is fresh and returns ``(False, None)`` otherwise, so the caller
    falls back to the store. :meth:`close` stops the background thread.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        store_prefix: str,
        namespace: str,
        channel: str,
        max_staleness: float,
    ) -> None:
        self._client = client
        # Store keys arrive from the caller without the store prefix; Redis
        # names (from SCAN and messages) carry it.
        self._store_prefix = store_prefix.encode("ascii")
        self._key_prefix = (store_prefix + namespace).encode("ascii")
        self._namespace = namespace
        self._channel = channel
        self._max_staleness = max_staleness
        # Ping well inside the staleness bound so one lost pong is not fatal.
        self._heartbeat = max_staleness / 4
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[bytes, float]] = {}
        self._written_during_resync: dict[bytes, tuple[bytes, float]] | None = None
        self._synced = False
        self._last_heard = 0.0
        self._last_resync = 0.0
        self._resyncs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meshsec-redis-mirror", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"RedisMirror(channel={self._channel!r}, fresh={self.fresh})"

    @property
    def fresh(self) -> bool:
        """True while the copy is synced and heard from within max_staleness."""
        return self._synced and time.monotonic() - self._last_heard <= self._max_staleness

    @property
    def resyncs(self) -> int:
        """How many full resynchronisations have completed (1 after start)."""
        return self._resyncs

    def wait_fresh(self, timeout: float) -> bool:
        """Block until the mirror is fresh or timeout seconds pass; return fresh."""
        deadline = time.monotonic() + timeout
        while not self.fresh:
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            time.sleep(0.01)
        return True

    def lookup(self, key: str) -> tuple[bool, bytes | None]:
        """``(True, value or None)`` when the mirror can answer, else ``(False, None)``."""
        if not self.fresh or not key.startswith(self._namespace):
            return False, None
        name = self._store_prefix + key.encode("ascii")
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or entry[1] <= time.monotonic():
            return True, None
        return True, entry[0]

    def remember(self, key: str, value: bytes, ttl: float) -> None:
        """Record a write this process just made, so it is visible here at once."""
        name = self._store_prefix + key.encode("ascii")
        entry = (value, time.monotonic() + ttl)
        with self._lock:
            self._entries[name] = entry
            if self._written_during_resync is not None:
                self._written_during_resync[name] = entry

    def close(self) -> None:
        """Stop the background thread and drop the subscription."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._synced = False

    # Background thread.

    def _run(self) -> None:
        delay = _MIN_RETRY
        while not self._stop.is_set():
            resyncs = self._resyncs
            # The store is down or the link broke: resync on the next session.
            # Anything unexpected also ends only this session: a dead thread
            # would leave the list permanently on the slow path.
            with contextlib.suppress(Exception):
                self._session()
            self._synced = False
            # Back off while the store stays unreachable; retry fast after a
            # session that worked.
            delay = _MIN_RETRY if self._resyncs > resyncs else min(delay * 2, _MAX_RETRY)
            self._stop.wait(delay)

    def _session(self) -> None:
        self._synced = False
        self._last_heard = time.monotonic()  # give the new subscription its full bound
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]  # untyped in redis-py
        try:
            pubsub.subscribe(self._channel)
            last_ping = time.monotonic()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=self._heartbeat)
                now = time.monotonic()
                if message is not None:
                    self._handle(message, now)
                if now - last_ping >= self._heartbeat:
                    pubsub.ping()
                    last_ping = now
                if now - self._last_heard > self._max_staleness:
                    return  # silent link: reconnect and resync
                if now - self._last_resync > _RESYNC_EVERY:
                    # Also catches keys written by a writer that never notifies,
                    # and drops expired entries.
                    self._resync()
        finally:
            pubsub.close()

    def _handle(self, message: dict[str, Any], now: float) -> None:
        self._last_heard = now
        kind = message.get("type")
        if kind == "subscribe":
            # The first subscription, or redis-py re-subscribing after a
            # reconnect: anything published in between was lost.
            self._synced = False
            self._resync()
        elif kind == "message" and isinstance(message.get("data"), bytes):
            self._refresh([message["data"]])

    def _resync(self) -> None:
        found: dict[bytes, tuple[bytes, float]] = {}
        with self._lock:
            self._written_during_resync = {}
        try:
            pattern = _glob_escape(self._key_prefix) + b"*"
            for batch in _batches(self._client.scan_iter(match=pattern, count=_SCAN_BATCH)):
                found.update(self._read(batch))
        finally:
            with self._lock:
                # A write this process made while SCAN ran may lie behind the
                # cursor; keep it rather than hide it until its message arrives.
                found.update(self._written_during_resync)
                self._written_during_resync = None
        with self._lock:
            self._entries = found
        self._last_heard = self._last_resync = time.monotonic()
        self._synced = True
        self._resyncs += 1

    def _refresh(self, names: list[bytes]) -> None:
        names = [name for name in names if name.startswith(self._key_prefix)]
        current = self._read(names)
        with self._lock:
            for name in names:
                if name in current:
                    self._entries[name] = current[name]
                else:
                    self._entries.pop(name, None)

    def _read(self, names: list[bytes]) -> dict[bytes, tuple[bytes, float]]:
        if not names:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.get(name)
            pipe.pttl(name)
        replies = pipe.execute()
        now = time.monotonic()
        found = {}
        for name, value, pttl in zip(names, replies[::2], replies[1::2], strict=True):
            if isinstance(value, bytes) and isinstance(pttl, int) and pttl != -2:
                # PTTL -1 (no expiry) cannot come from meshsec; keep it a day.
                ttl = pttl / 1000 if pttl >= 0 else 86_400.0
                found[name] = (value, now + ttl)
        return found


def _glob_escape(text: bytes) -> bytes:
    out = bytearray()
    for byte in text:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


def _batches(names: Iterable[Any]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for name in names:
        if isinstance(name, bytes):
            batch.append(name)
        if len(batch) >= _SCAN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
