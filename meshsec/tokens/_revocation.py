"""The revocation list: revoked token IDs and one-time-use token IDs.

Both live in a :class:`~meshsec.stores.Store` under keys derived from the
SHA-256 of the ``jti``, so an odd or oversized ``jti`` cannot shape a store
key. Each entry expires when the caller says the token stops mattering.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from types import TracebackType

from meshsec import audit
from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError, TokenError
from meshsec.stores import MemoryStore, RedisMirror, RedisStore, Store, StoreUnavailable

__all__ = ["RevocationList", "as_revocation_list"]

_REVOKED = "rev:"
_CONSUMED = "once:"
_MAX_ATTEMPTS = 16


class RevocationList:
    """Token IDs (``jti``) that must no longer be accepted.

    ``store`` defaults to a new :class:`~meshsec.stores.MemoryStore`; pass a
    :class:`~meshsec.stores.RedisStore` so that every process sees a
    revocation at once. Lookups always ask the store (nothing is cached in
    process), so a revocation is visible to the next check everywhere.

    ``cache_max_staleness`` (RedisStore only) keeps a copy of the revoked
    set in this process, fed by Redis pub/sub and resynchronised on every
    reconnect; checks are then answered from memory. A revocation made
    elsewhere arrives within the pub/sub latency; if the subscription goes
    silent, the copy stops answering after ``cache_max_staleness`` and
    checks go to the store again. Call :meth:`close` to stop it.

    When the store cannot answer, :meth:`is_revoked` raises
    :class:`~meshsec.stores.StoreUnavailable` (fail closed). With
    ``unsafe_fail_open=True`` it returns False instead and records an audit
    event each time; :meth:`consume_once` always fails closed, since failing
    open there would allow a replay.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        clock: Clock = system_clock,
        unsafe_fail_open: bool = False,
        cache_max_staleness: timedelta | float | None = None,
    ) -> None:
        self._store: Store = MemoryStore(clock=clock) if store is None else store
        self._clock = clock
        self._fail_open = bool(unsafe_fail_open)
        self._mirror: RedisMirror | None = None
        if cache_max_staleness is not None:
            self._mirror = _start_mirror(self._store, cache_max_staleness)
        if self._fail_open:
            audit.record(
                audit.Category.CONFIGURATION,
                "revocation.unsafe_fail_open",
                audit.Outcome.SUCCESS,
                target=repr(self._store),
                clock=clock,
            )

    def __repr__(self) -> str:
        return (
            f"RevocationList(store={self._store!r}, unsafe_fail_open={self._fail_open}, "
            f"cached={self._mirror is not None})"
        )

    def close(self) -> None:
        """Stop the in-process cache, if any. The store stays open."""
        if self._mirror is not None:
            self._mirror.close()

    def __enter__(self) -> RevocationList:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def revoke(self, jti: str, until: float | datetime) -> None:
        """Reject ``jti`` until ``until`` (POSIX seconds or an aware datetime).

        Pass the token's ``exp`` plus the verifier's leeway: after that the
        token is refused as expired anyway. Revoking again with an earlier
        ``until`` never shortens an existing revocation. An ``until`` already
        in the past does nothing. Raises StoreUnavailable.
        """
        key = _key(_REVOKED, jti)
        deadline = _seconds(until)
        ttl = deadline - self._clock()
        if ttl <= 0:
            return
        value = repr(deadline).encode("ascii")
        if self._write_revocation(key, deadline, value, ttl):
            self._announce(key, value, ttl)
        audit.record(
            audit.Category.TOKEN,
            "revocation.revoke",
            audit.Outcome.SUCCESS,
            target="jti:" + jti[:128],
            attributes={"until": deadline},
            clock=self._clock,
        )

    def _write_revocation(self, key: str, deadline: float, value: bytes, ttl: float) -> bool:
        """Store the revocation; True if this call wrote it (False: a later one stands)."""
        # Compare-and-set keeps the later deadline when revocations race.
        for _ in range(_MAX_ATTEMPTS):
            current = self._store.get(key)
            if current is None:
                if self._store.set_if_absent(key, value, ttl=ttl):
                    return True
            elif _stored_deadline(current) >= deadline:
                return False
            elif self._store.compare_and_set(key, current, value, ttl=ttl):
                return True
        raise StoreUnavailable("the revocation entry kept changing; try again")

    def _announce(self, key: str, value: bytes, ttl: float) -> None:
        if self._mirror is not None:
            self._mirror.remember(key, value, ttl)
        if isinstance(self._store, RedisStore):
            # Tell every caching RevocationList; they resync if they miss it.
            self._store.notify(key)

    def is_revoked(self, jti: str) -> bool:
        """True if ``jti`` is revoked.

        Raises StoreUnavailable when the store cannot answer, unless the list
        was built with ``unsafe_fail_open=True`` (then False, audited).
        """
        key = _key(_REVOKED, jti)
        if self._mirror is not None:
            known, value = self._mirror.lookup(key)
            if known:
                return value is not None
        try:
            return self._store.get(key) is not None
        except StoreUnavailable:
            if not self._fail_open:
                raise
            audit.record(
                audit.Category.TOKEN,
                "revocation.check_failed_open",
                audit.Outcome.FAILURE,
                reason=StoreUnavailable.code,
                clock=self._clock,
            )
            return False

    def consume_once(self, jti: str, until: float | datetime) -> bool:
        """Mark ``jti`` used; True the first time only, atomically across processes.

        For one-time tokens and replay detection: keep the mark until the
        token can no longer be accepted (its ``exp`` plus leeway). An
        ``until`` already in the past returns False (the mark could not be
        kept). Always raises StoreUnavailable when the store cannot answer.
        """
        key = _key(_CONSUMED, jti)
        ttl = _seconds(until) - self._clock()
        if ttl <= 0:
            return False
        return self._store.set_if_absent(key, b"1", ttl=ttl)


def as_revocation_list(
    revocations: RevocationList | Store | None, *, clock: Clock, unsafe_fail_open: bool = False
) -> RevocationList | None:
    """``revocations=`` as given to a verifier or issuer: a RevocationList, a Store, or None.

    A bare :class:`~meshsec.stores.Store` is wrapped in a RevocationList on
    that store, so ``TokenVerifier(..., revocations=RedisStore(...))`` works.
    ``unsafe_fail_open`` applies only to such a wrapped store; a ready-made
    RevocationList carries its own setting.
    """
    if isinstance(revocations, RevocationList):
        if unsafe_fail_open:
            raise ConfigError("set unsafe_fail_open on the RevocationList itself")
        return revocations
    if revocations is None:
        if unsafe_fail_open:
            raise ConfigError("unsafe_fail_open needs revocations= (a Store or RevocationList)")
        return None
    if not isinstance(revocations, Store):
        raise ConfigError("revocations is a RevocationList or a meshsec.stores.Store")
    return RevocationList(revocations, clock=clock, unsafe_fail_open=unsafe_fail_open)


def _start_mirror(store: Store, max_staleness: timedelta | float) -> RedisMirror:
    if not isinstance(store, RedisStore):
        raise ConfigError("cache_max_staleness needs a RedisStore (a MemoryStore is local already)")
    if isinstance(max_staleness, timedelta):
        max_staleness = max_staleness.total_seconds()
    return store.mirror(_REVOKED, max_staleness=max_staleness)


def _key(kind: str, jti: object) -> str:
    if not isinstance(jti, str) or not jti:
        raise TokenError("a token ID (jti) is a non-empty string")
    # surrogatepass: a JSON string may hold a lone surrogate; it still hashes.
    digest = hashlib.sha256(jti.encode("utf-8", "surrogatepass")).hexdigest()
    return kind + digest


def _seconds(until: object) -> float:
    if isinstance(until, datetime):
        if until.tzinfo is None:
            raise ConfigError("until must be an aware datetime (tzinfo=UTC)")
        return until.timestamp()
    if isinstance(until, bool) or not isinstance(until, int | float):
        raise ConfigError("until is POSIX seconds or an aware datetime")
    try:
        seconds = float(until)
    except OverflowError:  # an int beyond float range
        seconds = math.inf
    if not math.isfinite(seconds):
        raise ConfigError("until must be a finite time")
    return seconds


def _stored_deadline(value: bytes) -> float:
    try:
        return float(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        # An unreadable entry still marks the jti revoked; replace it.
        return -math.inf
