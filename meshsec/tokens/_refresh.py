"""Refresh tokens with rotation and reuse detection (RFC 9700 section 4.14.2).

A refresh token is an opaque random string (256 bits). The store keeps only
its SHA-256, never the token. Tokens descend from one login in a *family*:
every use rotates (the presented token is spent, a new one is returned), and
presenting a spent token again means that two parties hold it, so the whole
family is revoked and neither can refresh any more.

Store layout (every entry TTL'd until the family's absolute expiry plus a
grace period, so that late reuse is still detected and reported as expiry):

- ``rt:t:<sha256 of token>`` -> family id, one entry per token ever issued;
- ``rt:f:<family id>`` -> the family record (JSON); rotation replaces it
  with compare-and-set, so of two racing rotations exactly one wins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from meshsec import audit
from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError, TokenError
from meshsec.secret import Secret
from meshsec.stores import MAX_TTL_SECONDS, MemoryStore, Store, StoreCorrupted, StoreUnavailable

__all__ = [
    "RefreshFamily",
    "RefreshTokenExpired",
    "RefreshTokenInvalid",
    "RefreshTokenReused",
    "RefreshTokenRevoked",
    "RefreshTokens",
]

_PREFIX = "msr1_"
# 32 random bytes in unpadded base64url are 43 characters.
_TOKEN = re.compile(r"msr1_[A-Za-z0-9_-]{43}")
_FAMILY_ID = re.compile(r"[A-Za-z0-9_-]{22}")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# Records outlive the family by this much, so reuse after the absolute
# expiry still finds the record and reports "expired", not "unknown".
_GRACE_SECONDS = 3600.0
_MAX_ATTEMPTS = 8


class RefreshTokenInvalid(TokenError):  # noqa: N818  meshsec names errors by condition
    """The refresh token is unknown, malformed or no longer usable.

    Base of the other refresh-token errors; an OAuth server answers all of
    them with ``invalid_grant``.
    """

    code = "token.refresh_invalid"


class RefreshTokenExpired(RefreshTokenInvalid):
    """The refresh token passed its idle or absolute lifetime; sign in again."""

    code = "token.refresh_expired"


class RefreshTokenReused(RefreshTokenInvalid):
    """A spent refresh token was presented again; its whole family is now revoked."""

    code = "token.refresh_reused"


class RefreshTokenRevoked(RefreshTokenInvalid):
    """The refresh token's family was revoked; sign in again."""

    code = "token.refresh_revoked"


@attrs.frozen(kw_only=True)
class RefreshFamily:
    """What a refresh token stands for; holds nothing secret.

    ``generation`` counts rotations (0 for the token from :meth:`RefreshTokens.issue`);
    ``expires_at`` is the absolute end of the family, ``idle_expires_at`` the
    time by which the newest token must be used.
    """

    family_id: str
    subject: str
    client_id: str | None
    scopes: frozenset[str]
    generation: int
    issued_at: datetime
    expires_at: datetime
    idle_expires_at: datetime


@attrs.frozen(kw_only=True)
class _Record:
    sub: str
    cid: str | None
    scp: tuple[str, ...]
    iat: float
    exp: float
    last: float
    cur: str
    gen: int
    rev: bool = False

    def encode(self) -> bytes:
        return json.dumps(attrs.asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> _Record:
        try:
            data = json.loads(raw)
            scopes = data["scp"]
            data["scp"] = tuple(scopes) if isinstance(scopes, list) else None
            record = cls(**data)
        except (ValueError, TypeError, KeyError, RecursionError):
            record = None
        if record is None or not record.well_typed():
            raise StoreCorrupted("a refresh-token family record could not be decoded")
        return record

    def well_typed(self) -> bool:
        return (
            isinstance(self.sub, str)
            and (self.cid is None or isinstance(self.cid, str))
            and isinstance(self.scp, tuple)
            and all(isinstance(scope, str) for scope in self.scp)
            and all(_is_number(v) for v in (self.iat, self.exp, self.last))
            and isinstance(self.cur, str)
            and isinstance(self.gen, int)
            and not isinstance(self.gen, bool)
            and isinstance(self.rev, bool)
        )


class RefreshTokens:
    """Issue and rotate refresh tokens; detect reuse; revoke families.

    Tokens are returned as :class:`~meshsec.secret.Secret` (``reveal()`` to
    send one to the client); :meth:`rotate` accepts a ``Secret`` or a plain
    ``str``. With a :class:`~meshsec.stores.RedisStore` every operation is
    atomic across processes. Store outages raise
    :class:`~meshsec.stores.StoreUnavailable`; nothing fails open.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        idle_ttl: timedelta | float = timedelta(days=1),
        absolute_ttl: timedelta | float = timedelta(days=30),
        clock: Clock = system_clock,
    ) -> None:
        self._idle = _ttl_seconds(idle_ttl, "idle_ttl")
        self._absolute = _ttl_seconds(absolute_ttl, "absolute_ttl")
        if self._idle > self._absolute:
            raise ConfigError("idle_ttl cannot be longer than absolute_ttl")
        self._store: Store = MemoryStore(clock=clock) if store is None else store
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"RefreshTokens(store={self._store!r}, idle_ttl={self._idle:g}s, "
            f"absolute_ttl={self._absolute:g}s)"
        )

    def issue(
        self, subject: str, *, client_id: str | None = None, scopes: Iterable[str] = ()
    ) -> tuple[Secret[str], RefreshFamily]:
        """Start a new family for ``subject``; return its first token and the family.

        Raises ConfigError for an empty subject or client_id, or a scope that
        is not an RFC 6749 scope token; StoreUnavailable on outage.
        """
        now = self._clock()
        record = _Record(
            sub=_text(subject, "subject"),
            cid=None if client_id is None else _text(client_id, "client_id"),
            scp=_scopes(scopes),
            iat=now,
            exp=now + self._absolute,
            last=now,
            cur="",
            gen=0,
        )
        family_id = secrets.token_urlsafe(16)
        token, digest = _new_token()
        record = attrs.evolve(record, cur=digest)
        ttl = self._absolute + _GRACE_SECONDS
        if not self._store.set_if_absent(_family_key(family_id), record.encode(), ttl=ttl):
            raise StoreUnavailable("the store refused a new refresh-token family")
        self._store.set(_token_key(digest), family_id.encode(), ttl=ttl)
        family = self._family(family_id, record)
        self._event("refresh.issue", family)
        return Secret(token), family

    def rotate(
        self, refresh_token: Secret[str] | str, *, client_id: str | None = None
    ) -> tuple[Secret[str], RefreshFamily]:
        """Spend ``refresh_token`` and return its successor with the family.

        Pass the authenticated ``client_id`` of the caller: a token issued to
        another client is refused (RFC 6749 section 6) and left untouched.
        Raises RefreshTokenInvalid (unknown, malformed or another client's),
        RefreshTokenExpired (idle or absolute lifetime passed),
        RefreshTokenRevoked (family revoked), RefreshTokenReused (the token
        was already spent: the family is revoked now), StoreUnavailable on
        outage.
        """
        digest = self._digest_of(refresh_token)
        family_id = self._family_id_of(digest)
        for _ in range(_MAX_ATTEMPTS):
            raw = self._store.get(_family_key(family_id))
            record = self._usable(family_id, raw, digest, client_id)
            assert raw is not None
            token, new_digest = _new_token()
            now = self._clock()
            ttl = record.exp + _GRACE_SECONDS - now
            successor = attrs.evolve(record, cur=new_digest, gen=record.gen + 1, last=now)
            self._store.set(_token_key(new_digest), family_id.encode(), ttl=ttl)
            if self._store.compare_and_set(
                _family_key(family_id), raw, successor.encode(), ttl=ttl
            ):
                family = self._family(family_id, successor)
                self._event("refresh.rotate", family)
                return Secret(token), family
            # Lost a race: the successor is unreachable; look again, and the
            # next pass sees the spent token (reuse) or the revocation.
            self._store.delete(_token_key(new_digest))
        raise StoreUnavailable("the refresh-token family kept changing; try again")

    def revoke(self, refresh_token: Secret[str] | str) -> bool:
        """Revoke the family of ``refresh_token`` (RFC 7009); True if it was live.

        An unknown token is not an error here (RFC 7009 section 2.2).
        """
        try:
            digest = self._digest_of(refresh_token, "refresh.revoke")
            family_id = self._family_id_of(digest, "refresh.revoke")
        except RefreshTokenInvalid:
            return False
        return self.revoke_family(family_id)

    def revoke_family(self, family_id: str) -> bool:
        """Revoke every token of the family; True if this call revoked a live family."""
        if not isinstance(family_id, str) or not _FAMILY_ID.fullmatch(family_id):
            return False
        key = _family_key(family_id)
        for _ in range(_MAX_ATTEMPTS):
            raw = self._store.get(key)
            if raw is None:
                return False
            record = _Record.decode(raw)
            if record.rev:
                return False
            ttl = max(record.exp + _GRACE_SECONDS - self._clock(), 1.0)
            revoked = attrs.evolve(record, rev=True)
            if self._store.compare_and_set(key, raw, revoked.encode(), ttl=ttl):
                self._event("refresh.revoke_family", self._family(family_id, revoked))
                return True
        raise StoreUnavailable("the refresh-token family kept changing; try again")

    def _usable(
        self, family_id: str, raw: bytes | None, digest: str, client_id: str | None
    ) -> _Record:
        """Decode the family record and raise unless ``digest`` may rotate now."""
        if raw is None:
            raise self._fail(RefreshTokenInvalid("unknown refresh token"), family_id)
        record = _Record.decode(raw)
        if record.rev:
            raise self._fail(
                RefreshTokenRevoked("the refresh token was revoked"), family_id, record.sub
            )
        if not hmac.compare_digest(record.cur, digest):
            # RFC 9700 section 4.14.2: a spent token came back, so an attacker
            # or the client holds a copy; end the family for both.
            self.revoke_family(family_id)
            raise self._fail(
                RefreshTokenReused("a spent refresh token was presented again"),
                family_id,
                record.sub,
            )
        # After the reuse check: a spent token is theft whoever presents it.
        if client_id is not None and record.cid != client_id:
            raise self._fail(
                RefreshTokenInvalid("the refresh token was issued to another client"),
                family_id,
                record.sub,
            )
        now = self._clock()
        if now >= record.exp or now >= record.last + self._idle:
            raise self._fail(
                RefreshTokenExpired("the refresh token has expired"), family_id, record.sub
            )
        return record

    def _digest_of(self, refresh_token: object, action: str = "refresh.rotate") -> str:
        raw = refresh_token.reveal() if isinstance(refresh_token, Secret) else refresh_token
        if not isinstance(raw, str) or not _TOKEN.fullmatch(raw):
            raise self._fail(RefreshTokenInvalid("malformed refresh token"), None, action=action)
        return hashlib.sha256(raw.encode("ascii")).hexdigest()

    def _family_id_of(self, digest: str, action: str = "refresh.rotate") -> str:
        found = self._store.get(_token_key(digest))
        if found is None:
            raise self._fail(RefreshTokenInvalid("unknown refresh token"), None, action=action)
        try:
            family_id = found.decode("ascii")
        except UnicodeDecodeError:
            family_id = ""
        if not _FAMILY_ID.fullmatch(family_id):
            raise StoreCorrupted("a refresh-token entry could not be decoded")
        return family_id

    def _family(self, family_id: str, record: _Record) -> RefreshFamily:
        return RefreshFamily(
            family_id=family_id,
            subject=record.sub,
            client_id=record.cid,
            scopes=frozenset(record.scp),
            generation=record.gen,
            issued_at=_utc(record.iat),
            expires_at=_utc(record.exp),
            idle_expires_at=_utc(min(record.exp, record.last + self._idle)),
        )

    def _event(self, action: str, family: RefreshFamily) -> None:
        audit.record(
            audit.Category.TOKEN,
            action,
            audit.Outcome.SUCCESS,
            actor=family.subject,
            target=f"refresh-family:{family.family_id}",
            attributes={"client_id": family.client_id, "generation": family.generation},
            clock=self._clock,
        )

    def _fail(
        self,
        error: RefreshTokenInvalid,
        family_id: str | None,
        subject: str | None = None,
        *,
        action: str = "refresh.rotate",
    ) -> RefreshTokenInvalid:
        reused = isinstance(error, RefreshTokenReused)
        audit.record(
            audit.Category.TOKEN,
            action,
            audit.Outcome.DENIED if reused else audit.Outcome.FAILURE,
            actor=subject,
            reason=error.code,
            target=None if family_id is None else f"refresh-family:{family_id}",
            clock=self._clock,
        )
        return error


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _new_token() -> tuple[str, str]:
    token = _PREFIX + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode("ascii")).hexdigest()


def _token_key(digest: str) -> str:
    return "rt:t:" + digest


def _family_key(family_id: str) -> str:
    return "rt:f:" + family_id


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _ttl_seconds(value: object, name: str) -> float:
    seconds: Any = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ConfigError(f"{name} is a timedelta or a number of seconds")
    # The upper bound leaves room for the grace period within the store's TTL limit.
    if not 0 < seconds <= MAX_TTL_SECONDS - _GRACE_SECONDS:
        raise ConfigError(f"{name} must be positive and at most about ten years")
    return float(seconds)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ConfigError(f"{name} is a non-empty string of at most 1024 characters")
    return value


def _scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(scopes, str | bytes):
        raise ConfigError("scopes is a collection of scope strings, not one string")
    found = tuple(scopes)
    for scope in found:
        if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
            raise ConfigError("each scope is an RFC 6749 scope token (no spaces or quotes)")
    return tuple(sorted(set(found)))
