"""The Redis store: shared state for many processes and machines.

Each operation is one atomic server-side command: ``SET ... NX PX`` for
set-if-absent, and a Lua script for compare-and-set (Redis runs a script
without interleaving other commands, so two processes racing on one key
cannot both win). Every key carries a ``PX`` expiry.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import TYPE_CHECKING, Any

from meshsec.errors import ConfigError
from meshsec.stores._errors import StoreDependencyMissing, StoreUnavailable
from meshsec.stores._mirror import RedisMirror
from meshsec.stores._protocol import check_key, check_ttl, check_value

if TYPE_CHECKING:
    import redis

__all__ = ["RedisStore"]

# KEYS[1]: the key; ARGV: expected value, new value, TTL in milliseconds.
# A missing key reads as false in Lua and never equals a string.
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
"""


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:
        raise StoreDependencyMissing(
            "RedisStore needs redis-py: install the extra with pip install 'meshsec[redis]'"
        ) from None
    return redis


class RedisStore:
    """A :class:`~meshsec.stores.Store` on a Redis server, through redis-py.

    Pass either a ready ``client`` (a ``redis.Redis`` built with the default
    ``decode_responses=False``) or a ``url`` (``redis://``, ``rediss://`` or
    ``unix://``; also accepted as the first argument or through
    :meth:`from_url`); the store closes only a client it built. Every key is
    written under ``prefix``. Any failure to reach or use the server raises
    :class:`~meshsec.stores.StoreUnavailable`; nothing fails silently.

    A client built from ``url`` uses short timeouts (a revocation check
    should fail fast, not hang a request) and retries only a failed
    connection, once.
    """

    def __init__(
        self,
        client: redis.Redis | str | None = None,
        *,
        url: str | None = None,
        prefix: str = "meshsec:",
        socket_timeout: float = 1.0,
        connect_timeout: float = 1.0,
    ) -> None:
        if isinstance(client, str) and url is None:
            # RedisStore("redis://...") reads naturally; treat it as url=.
            client, url = None, client
        if (client is None) == (url is None):
            raise ConfigError("RedisStore takes exactly one of client= or url=")
        self._prefix = check_key(prefix)
        if client is None:
            assert url is not None
            built = _client_from_url(url, socket_timeout, connect_timeout)
            self._owns_client = True
        elif isinstance(client, str):  # a str client with url= too was refused above
            raise ConfigError("RedisStore takes exactly one of client= or url=")
        else:
            self._owns_client = False
            _check_client(client)
            built = client
        self._client: redis.Redis = built
        self._cas = built.register_script(_COMPARE_AND_SET)
        self._errors: tuple[type[BaseException], ...] = (
            _import_redis().exceptions.RedisError,
            OSError,
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """``RedisStore(url=url, **options)``, spelled like ``redis.Redis.from_url``."""
        return cls(url=url, **options)

    def __repr__(self) -> str:
        # The URL may hold a password, so it never appears here.
        return f"RedisStore(prefix={self._prefix!r})"

    def get(self, key: str) -> bytes | None:
        name = self._key(key)
        try:
            value = self._client.get(name)
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return _as_bytes(value)

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        name = self._key(key)
        check_value(value)
        millis = _millis(ttl)
        try:
            self._client.set(name, value, px=millis)
        except self._errors as exc:
            raise _unavailable(exc) from exc

    def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        name = self._key(key)
        check_value(value)
        millis = _millis(ttl)
        try:
            return bool(self._client.set(name, value, px=millis, nx=True))
        except self._errors as exc:
            raise _unavailable(exc) from exc

    def compare_and_set(self, key: str, expected: bytes, new: bytes, *, ttl: float) -> bool:
        name = self._key(key)
        check_value(expected)
        check_value(new)
        millis = _millis(ttl)
        try:
            return bool(self._cas(keys=[name], args=[expected, new, millis]))
        except self._errors as exc:
            raise _unavailable(exc) from exc

    def delete(self, key: str) -> bool:
        name = self._key(key)
        try:
            return bool(self._client.delete(name))
        except self._errors as exc:
            raise _unavailable(exc) from exc

    def notify(self, key: str) -> None:
        """Announce that ``key`` changed, to every :class:`RedisMirror` of its namespace.

        Pub/sub is at most once; mirrors resynchronise after any gap, so a
        lost announcement delays a mirror but never corrupts it.
        """
        name = self._key(key)
        namespace = _namespace(key)
        try:
            self._client.publish(self._channel(namespace), name)
        except self._errors as exc:
            raise _unavailable(exc) from exc

    def mirror(self, namespace: str, *, max_staleness: float = 2.0) -> RedisMirror:
        """Start a local copy of the keys that begin with ``namespace`` (ending in ``:``).

        The mirror answers from memory while it is fresh: synced and heard
        from within ``max_staleness`` seconds. Writers must call
        :meth:`notify` after each change under the namespace. Close it with
        ``close()``.
        """
        check_key(namespace)
        if len(namespace) < 2 or _namespace(namespace) != namespace or namespace[-1] != ":":
            raise ConfigError("a mirror namespace is a key prefix ending in ':' (like 'rev:')")
        if isinstance(max_staleness, bool) or not isinstance(max_staleness, int | float):
            raise ConfigError("max_staleness is a number of seconds")
        seconds = float(max_staleness)
        if not 0.05 <= seconds <= 60:  # NaN fails this test too
            raise ConfigError("max_staleness is between 0.05 and 60 seconds")
        return RedisMirror(
            self._client,
            store_prefix=self._prefix,
            namespace=namespace,
            channel=self._channel(namespace),
            max_staleness=seconds,
        )

    def close(self) -> None:
        """Close the connection pool if this store built the client."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _key(self, key: str) -> str:
        return self._prefix + check_key(key)

    def _channel(self, namespace: str) -> str:
        return self._prefix + "changes:" + namespace


def _namespace(key: str) -> str:
    """The part of a key up to and including its first ':' (the whole key without one)."""
    head, colon, _ = key.partition(":")
    return head + colon


def _client_from_url(url: str, socket_timeout: float, connect_timeout: float) -> redis.Redis:
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("a Redis URL starts with redis://, rediss:// or unix://")
    module = _import_redis()
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    retry = Retry(
        ExponentialBackoff(cap=0.05, base=0.01),
        1,
        # Only a refused or dropped connection is retried: a timed-out write
        # may have been applied, and repeating a conditional write would turn
        # a win into a reported loss.
        supported_errors=(module.exceptions.ConnectionError,),
    )
    try:
        client: redis.Redis = module.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=retry,
            decode_responses=False,
        )
    except ValueError:
        raise ConfigError("the Redis URL could not be parsed") from None
    return client


def _check_client(client: object) -> None:
    _import_redis()
    if not all(callable(getattr(client, name, None)) for name in ("register_script", "get")):
        raise ConfigError("client is a redis.Redis; pass a URL as url= or as a string")
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", {})
    if kwargs.get("decode_responses"):
        raise ConfigError("RedisStore needs a client built with decode_responses=False")


def _millis(ttl: float) -> int:
    # Round up so a sub-millisecond TTL still writes an expiring key, never PX 0.
    return max(1, math.ceil(check_ttl(ttl) * 1000))


def _as_bytes(value: object) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    raise StoreUnavailable("the Redis client returned a non-bytes value")


def _unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(
        f"the Redis store did not answer ({type(exc).__name__}); "
        "check that the server is running and reachable"
    )
