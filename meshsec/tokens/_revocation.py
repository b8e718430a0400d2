"""The revocation list: revoked token IDs and one-time-use token IDs.

Both live in a :class:`~meshsec.stores.Store` under keys derived from the
SHA-256 of the ``jti``, so an odd or oversized ``jti`` cannot shape a store
key. Each entry expires when the caller says the token stops mattering.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from datetime import datetime
from typing import Any

from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError, TokenError
from meshsec.stores import MemoryStore, Store, StoreUnavailable

__all__ = ["RevocationList"]

_REVOKED = "rev:"
_CONSUMED = "once:"


class RevocationList:
    """Token IDs (``jti``) that must no longer be accepted.

    ``store`` defaults to a new :class:`~meshsec.stores.MemoryStore`; pass a
    :class:`~meshsec.stores.RedisStore` so that every process sees a
    revocation at once. Lookups always ask the store (nothing is cached in
    process), so a revocation is visible to the next check everywhere.

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
    ) -> None:
        self._store: Store = MemoryStore(clock=clock) if store is None else store
        self._clock = clock
        self._fail_open = bool(unsafe_fail_open)
        if self._fail_open:
            _audit(
                "CONFIGURATION",
                "revocation.fail_open_enabled",
                "SUCCESS",
                reason="store.unsafe_fail_open",
            )

    def __repr__(self) -> str:
        return f"RevocationList(store={self._store!r}, unsafe_fail_open={self._fail_open})"

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
        while True:
            current = self._store.get(key)
            if current is None:
                if self._store.set_if_absent(key, value, ttl=ttl):
                    return
                continue
            if _stored_deadline(current) >= deadline:
                return
            if self._store.compare_and_set(key, current, value, ttl=ttl):
                return

    def is_revoked(self, jti: str) -> bool:
        """True if ``jti`` is revoked.

        Raises StoreUnavailable when the store cannot answer, unless the list
        was built with ``unsafe_fail_open=True`` (then False, audited).
        """
        key = _key(_REVOKED, jti)
        try:
            return self._store.get(key) is not None
        except StoreUnavailable:
            if not self._fail_open:
                raise
            _audit(
                "TOKEN",
                "revocation.check_failed_open",
                "FAILURE",
                reason=StoreUnavailable.code,
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
    seconds = float(until)
    if not math.isfinite(seconds):
        raise ConfigError("until must be a finite time")
    return seconds


def _stored_deadline(value: bytes) -> float:
    try:
        return float(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        # An unreadable entry still marks the jti revoked; replace it.
        return -math.inf


def _audit(
    category: str,
    action: str,
    outcome: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    attributes: dict[str, object] | None = None,
) -> None:
    """Record an audit event through meshsec.audit when it is available."""
    try:
        audit: Any = importlib.import_module("meshsec.audit")
    except ImportError:  # meshsec.audit lands in a parallel change; until then, drop.
        return
    audit.record(
        getattr(audit.Category, category),
        action,
        getattr(audit.Outcome, outcome),
        actor=actor,
        target=target,
        reason=reason,
        attributes=attributes,
    )
