"""Fetch and cache a remote JWKS (RFC 7517 §5) over HTTPS.

Freshness follows the response's ``Cache-Control: max-age`` (clamped between
``min_refetch_interval`` and ``max_cache_age``). When a refresh fails, the
last good key set keeps serving for ``stale_if_error`` (RFC 5861 §4 spirit);
after that verification fails closed. A token naming an unknown ``kid``
triggers at most one fetch per ``min_refetch_interval``, however many such
tokens arrive, so a flood of made-up kids cannot become a flood of fetches.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

import requests
import urllib3

from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError
from meshsec.tokens import _events
from meshsec.tokens._errors import InvalidKey, JWKSUnavailable
from meshsec.tokens._keys import SigningKey
from meshsec.tokens._keyset import KeySet

__all__ = ["JWKSClient"]

_CHUNK: Final = 8192
_ACCEPT: Final = "application/jwk-set+json, application/json;q=0.9"


class JWKSClient:
    """The keys of a remote issuer, fetched with ``requests`` and cached.

    ``url`` must be HTTPS; ``unsafe_allow_http=True`` permits plain HTTP
    (for loopback tests and sidecar setups) and records an audit event.
    ``session`` is a :class:`requests.Session` to use (its TLS settings,
    e.g. ``session.verify = "ca.pem"``, apply); without one the client
    makes and owns one (:meth:`close` it). Redirects are not followed.
    ``timeout`` bounds the whole download, ``max_bytes`` the body (checked
    while streaming). Use it wherever a :class:`KeySet` is accepted by a
    :class:`TokenVerifier`.
    """

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        timeout: timedelta = timedelta(seconds=5),
        max_bytes: int = 256 * 1024,
        min_refetch_interval: timedelta = timedelta(seconds=30),
        default_max_age: timedelta = timedelta(minutes=5),
        max_cache_age: timedelta = timedelta(hours=24),
        stale_if_error: timedelta = timedelta(hours=1),
        unsafe_allow_http: bool = False,
        clock: Clock = system_clock,
    ) -> None:
        self._url = url
        self._label = _label(url, unsafe_allow_http=unsafe_allow_http)
        durations = (timeout, min_refetch_interval, default_max_age, max_cache_age, stale_if_error)
        if not all(isinstance(duration, timedelta) for duration in durations):
            raise ConfigError("JWKSClient durations are datetime.timedelta values")
        if timeout <= timedelta(0) or max_bytes <= 0 or min_refetch_interval < timedelta(0):
            raise ConfigError("timeout and max_bytes must be positive")
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout.total_seconds()
        self._max_bytes = max_bytes
        self._min_interval = min_refetch_interval.total_seconds()
        self._default_age = default_max_age.total_seconds()
        self._max_age = max(max_cache_age.total_seconds(), self._min_interval)
        self._stale = stale_if_error.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fresh_until = float("-inf")
        self._stale_until = float("-inf")
        self._last_attempt = float("-inf")
        self._version = 0
        self._fetches = 0
        self._worker: threading.Thread | None = None
        if unsafe_allow_http and urlsplit(url).scheme == "http":
            _events.record(
                "CONFIGURATION",
                "jwks.unsafe_allow_http",
                "SUCCESS",
                reason="config.unsafe_allow_http",
                target=self._label,
                clock=clock,
            )

    @property
    def url(self) -> str:
        return self._url

    @property
    def fetches(self) -> int:
        """How many HTTP requests this client has made (for monitoring)."""
        return self._fetches

    @property
    def version(self) -> int:
        """Changes whenever the fetched key set changes (verifier caches use it)."""
        return self._version

    def get(self, kid: str) -> SigningKey | None:
        """The key for ``kid``; refetches (rate-limited) when the kid is unknown.

        Raises JWKSUnavailable when no usable key set can be had.
        """
        keys = self.key_set()
        key = keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if self._keys is not None and kid in self._keys:
                return self._keys.get(kid)  # another thread fetched it meanwhile
            if self._clock() - self._last_attempt < self._min_interval:
                return None
            keys = self._refresh_locked() or keys
        return keys.get(kid)

    def key_set(self) -> KeySet:
        """The current key set, fetched when it is no longer fresh."""
        keys, now = self._keys, self._clock()
        if keys is not None and now < self._fresh_until:
            return keys
        # With a usable stale set, never queue behind a refresh in progress.
        stale = keys if keys is not None and now < self._stale_until else None
        if not self._lock.acquire(blocking=stale is None):
            assert stale is not None  # a blocking acquire always succeeds
            return stale
        try:
            now = self._clock()
            if self._keys is not None and now < self._fresh_until:
                return self._keys
            if now - self._last_attempt >= self._min_interval:
                self._refresh_locked()
            return self._usable(self._clock())
        finally:
            self._lock.release()

    def refresh(self) -> KeySet:
        """Fetch now (ignoring freshness and the refetch interval)."""
        with self._lock:
            self._refresh_locked()
            return self._usable(self._clock())

    def close(self) -> None:
        """Close the session this client made (a session passed in stays open)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> JWKSClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JWKSClient({self._label!r})"

    # -- internals -----------------------------------------------------------

    def _usable(self, now: float) -> KeySet:
        if self._keys is not None and now < self._fresh_until:
            return self._keys
        if self._keys is not None and now < self._stale_until:
            return self._keys  # stale-if-error: the last good set, for a bounded time
        raise JWKSUnavailable("the issuer's JWKS cannot be fetched and no fresh copy is cached")

    def _refresh_locked(self) -> KeySet | None:
        now = self._clock()
        self._last_attempt = now
        try:
            body, max_age = self._download()
            keys = KeySet.from_jwks(body)
        except (JWKSUnavailable, InvalidKey) as exc:
            _events.record(
                "KEY",
                "jwks.fetch",
                "FAILURE",
                reason=exc.code,
                target=self._label,
                clock=self._clock,
            )
            return None
        age = (
            self._default_age
            if max_age is None
            else min(max(max_age, self._min_interval), self._max_age)
        )
        if self._keys is None or self._keys.to_jwks() != keys.to_jwks():
            self._version += 1
            _events.record(
                "KEY",
                "jwks.updated",
                "SUCCESS",
                target=self._label,
                clock=self._clock,
                attributes={"keys": len(keys)},
            )
        self._keys = keys
        self._fresh_until = now + age
        self._stale_until = self._fresh_until + self._stale
        return keys

    def _download(self) -> tuple[bytes, float | None]:
        # requests' timeout bounds each socket read, not the exchange: a server
        # trickling its status line and headers a byte at a time would hold the
        # caller (and the refresh lock) forever. So the request runs in a worker
        # the caller waits for at most ``timeout``; a worker still hanging from
        # an earlier attempt blocks new ones, so at most one thread is ever stuck.
        if self._worker is not None and self._worker.is_alive():
            raise JWKSUnavailable("an earlier JWKS download has not finished yet")
        outcome: list[tuple[bytes, float | None] | JWKSUnavailable] = []
        deadline = time.monotonic() + self._timeout
        self._fetches += 1
        worker = threading.Thread(
            target=self._download_into,
            args=(outcome, deadline),
            name="meshsec-jwks-fetch",
            daemon=True,
        )
        self._worker = worker
        worker.start()
        worker.join(self._timeout)
        if not outcome:
            raise JWKSUnavailable("the JWKS download took longer than the timeout")
        result = outcome[0]
        if isinstance(result, JWKSUnavailable):
            raise result
        return result

    def _download_into(
        self, outcome: list[tuple[bytes, float | None] | JWKSUnavailable], deadline: float
    ) -> None:
        try:
            outcome.append(self._request(deadline))
        except JWKSUnavailable as exc:
            outcome.append(exc)
        except Exception:  # noqa: BLE001  a worker must not die with an unhandled error
            outcome.append(JWKSUnavailable("the JWKS endpoint gave an unusable answer"))

    def _request(self, deadline: float) -> tuple[bytes, float | None]:
        try:
            with self._session.get(
                self._url,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
                headers={"Accept": _ACCEPT, "Accept-Encoding": "identity"},
            ) as response:
                if response.status_code != 200:
                    raise JWKSUnavailable("the JWKS endpoint did not answer 200 OK")
                body = self._read_body(response, deadline)
                return body, _max_age(response.headers.get("Cache-Control", ""))
        except (requests.RequestException, urllib3.exceptions.HTTPError):
            raise JWKSUnavailable("the JWKS endpoint could not be reached") from None

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        declared = _decimal(response.headers.get("Content-Length", ""))
        if declared is not None and declared > self._max_bytes:
            raise JWKSUnavailable("the JWKS response is larger than max_bytes")
        chunks: list[bytes] = []
        total = 0
        # read1 returns after each socket read, so the deadline also stops a
        # server that trickles one byte at a time (each read within timeout).
        while chunk := response.raw.read1(_CHUNK):
            total += len(chunk)
            if total > self._max_bytes:
                raise JWKSUnavailable("the JWKS response is larger than max_bytes")
            if time.monotonic() > deadline:
                raise JWKSUnavailable("the JWKS download took longer than the timeout")
            chunks.append(chunk)
        return b"".join(chunks)


def _label(url: str, *, unsafe_allow_http: bool) -> str:
    """Validate the URL; return it without credentials or query (for events)."""
    if not isinstance(url, str):
        raise ConfigError("the JWKS URL is a string")
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a bad port or IPv6 literal
        raise ConfigError("the JWKS URL could not be parsed") from None
    if parts.scheme == "http" and not unsafe_allow_http:
        raise ConfigError("the JWKS URL must be https (unsafe_allow_http=True permits http)")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("the JWKS URL must be an https URL with a host")
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _decimal(text: str) -> int | None:
    """An HTTP delta-seconds / Content-Length value: ASCII digits only (RFC 9110 §8.6).

    ``str.isdigit`` also accepts digits such as "²" (a header is read as
    Latin-1), which ``int`` then refuses; this never raises.
    """
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text[:12])


def _max_age(header: str) -> float | None:
    """RFC 9111 §5.2.2.1 max-age (no-store/no-cache count as 0); None when absent."""
    found: float | None = None
    for directive in header.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            seconds = _decimal(value.strip().strip('"'))
            if seconds is None:
                return 0.0
            found = float(min(seconds, 10**9))
    return found
