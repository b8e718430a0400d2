"""Red-team: a hostile JWKS endpoint against JWKSClient (real loopback sockets).

The server here writes raw HTTP so it can misbehave in ways a well-behaved
HTTP server library would not: Latin-1 digits in headers, trickled status
lines, gzip bombs, garbage cache directives.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError
from meshsec.tokens import (
    InvalidKey,
    JWKSClient,
    JWKSUnavailable,
    KeySet,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    UnknownKey,
)

from ._helpers import b64, forge, key_for
from .conftest import AUDIENCE, ISSUER

Responder = Callable[[socket.socket], None]


class RawServer:
    """Accepts on 127.0.0.1 and lets ``respond`` write whatever bytes it likes."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/jwks.json"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests += 1
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                self.respond(conn)
            except OSError:
                pass

    def stopped(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self._accepting.join()
        self._listener.close()
        for worker in self._threads:
            worker.join(timeout=10)


def _reply(body: bytes, *headers: bytes) -> Responder:
    def respond(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in headers)
        if not any(h.lower().startswith(b"content-length") for h in headers):
            head += b"Content-Length: %d\r\n" % len(body)
        conn.sendall(head + b"Connection: close\r\n\r\n" + body)

    return respond


@pytest.fixture
def serve() -> Iterator[Callable[[Responder], RawServer]]:
    servers: list[RawServer] = []

    def start(respond: Responder) -> RawServer:
        servers.append(RawServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        made.trust_env = False
        yield made


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


def _jwks(*keys: SigningKey) -> bytes:
    return json.dumps(KeySet(list(keys)).to_jwks()).encode()


def _client(url: str, session: requests.Session, clock: FrozenClock, **options: Any) -> JWKSClient:
    return JWKSClient(url, session=session, unsafe_allow_http=True, clock=clock, **options)


# -- header parsing ---------------------------------------------------------------


@pytest.mark.parametrize("value", [b"\xb2", b"1\xb9", b"\xd9\xa1"])
def test_latin1_digit_content_length_never_crashes(
    serve: Callable[[Responder], RawServer],
    session: requests.Session,
    clock: FrozenClock,
    value: bytes,
) -> None:
    key = key_for("EdDSA")
    server = serve(_reply(_jwks(key), b"Content-Length: " + value))
    client = _client(server.url, session, clock)
    # Refusing the response is fine too; a ValueError escaping is not.
    with contextlib.suppress(JWKSUnavailable):
        assert client.get(key.kid) is not None


@pytest.mark.parametrize("value", [b"max-age=\xb2", b"max-age=\xb9\xb2\xb3", b'max-age="\xbd"'])
def test_latin1_digit_max_age_never_crashes_and_counts_as_no_cache(
    serve: Callable[[Responder], RawServer],
    session: requests.Session,
    clock: FrozenClock,
    value: bytes,
) -> None:
    key = key_for("EdDSA")
    server = serve(_reply(_jwks(key), b"Cache-Control: " + value))
    client = _client(server.url, session, clock, min_refetch_interval=timedelta(seconds=10))
    assert client.get(key.kid) is not None
    clock.advance(11)
    client.key_set()
    assert server.requests == 2


@pytest.mark.parametrize(
    "value", [b"max-age=-5", b"max-age=abc", b"max-age=1e9", b"max-age=", b"max-age=0x10"]
)
def test_negative_or_garbage_max_age_refetches_after_the_minimum_interval(
    serve: Callable[[Responder], RawServer],
    session: requests.Session,
    clock: FrozenClock,
    value: bytes,
) -> None:
    server = serve(_reply(_jwks(key_for("EdDSA")), b"Cache-Control: " + value))
    client = _client(server.url, session, clock, min_refetch_interval=timedelta(seconds=10))
    client.key_set()
    clock.advance(5)
    client.key_set()
    assert server.requests == 1  # not hammered either
    clock.advance(6)
    client.key_set()
    assert server.requests == 2


def test_huge_max_age_clamped_to_max_cache_age(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    server = serve(_reply(_jwks(key_for("EdDSA")), b"Cache-Control: max-age=" + b"9" * 40))
    client = _client(server.url, session, clock, max_cache_age=timedelta(hours=1))
    client.key_set()
    clock.advance(3599)
    client.key_set()
    assert server.requests == 1
    clock.advance(2)
    client.key_set()
    assert server.requests == 2


# -- resource exhaustion ---------------------------------------------------------------


def test_slowloris_status_line_and_headers_hit_the_total_timeout(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(30):  # one header byte every 0.1 s: each read is quick
            if server.stopped():
                return
            conn.sendall(b"X")
            time.sleep(0.1)

    server = serve(trickle)
    client = _client(server.url, session, clock, timeout=timedelta(seconds=0.5))
    started = time.monotonic()
    with pytest.raises(JWKSUnavailable):
        client.key_set()
    assert time.monotonic() - started < 1.5
    # The stuck download does not let a second one pile up behind it.
    clock.advance(3600)
    started = time.monotonic()
    with pytest.raises(JWKSUnavailable):
        client.refresh()
    assert time.monotonic() - started < 0.5
    assert server.requests == 1


def test_gzip_bomb_is_never_decompressed(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    bomb = gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 256 * 1024
    server = serve(_reply(bomb, b"Content-Encoding: gzip"))
    started = time.monotonic()
    with pytest.raises(JWKSUnavailable):
        _client(server.url, session, clock).key_set()
    assert time.monotonic() - started < 2


def test_chunked_body_over_the_size_limit_refused(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    def chunked(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        chunk = b" " * 4096
        for _ in range(64):
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.sendall(b"0\r\n\r\n")

    server = serve(chunked)
    with pytest.raises(JWKSUnavailable):
        _client(server.url, session, clock, max_bytes=16 * 1024).key_set()


def test_unknown_kid_flood_from_many_threads_stays_bounded(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    key = key_for("EdDSA")
    server = serve(_reply(_jwks(key)))
    client = _client(server.url, session, clock)
    keys = client.key_set()
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=client, clock=clock)
    issuer = TokenIssuer(issuer=ISSUER, keys=KeySet([key]), clock=clock)
    good = issuer.issue("web", AUDIENCE)
    errors: list[BaseException] = []

    def flood() -> None:
        for _ in range(40):
            header = {"alg": "EdDSA", "kid": secrets.token_urlsafe(12), "typ": "at+jwt"}
            try:
                verifier.verify(forge(header, {"sub": "x"}, key))
            except UnknownKey:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=flood) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert client.fetches <= 2
    assert verifier.verify(good).subject == "web"
    assert client.key_set() is keys or client.key_set().get(key.kid) is not None


# -- what a JWKS may make a verifier trust ------------------------------------------------


def _served_client(
    serve: Callable[[Responder], RawServer],
    session: requests.Session,
    clock: FrozenClock,
    entries: list[dict[str, Any]],
) -> JWKSClient:
    server = serve(_reply(json.dumps({"keys": entries}).encode()))
    return _client(server.url, session, clock)


def test_oct_key_in_a_fetched_jwks_is_never_trusted(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    secret = secrets.token_bytes(32)
    entry = {"kty": "oct", "k": b64(secret), "kid": "shared", "alg": "HS256", "use": "sig"}
    client = _served_client(serve, session, clock, [entry])
    assert client.get("shared") is None
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=client, clock=clock)
    now = int(clock())
    payload = {"iss": ISSUER, "sub": "x", "aud": AUDIENCE, "exp": now + 60, "jti": "j"}
    token = forge(
        {"alg": "HS256", "kid": "shared", "typ": "at+jwt"},
        payload,
        SigningKey.symmetric(secret),
    )
    with pytest.raises(UnknownKey):
        verifier.verify(token)


def _rsa_jwk(bits: int, exponent: int, kid: str) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=exponent, key_size=bits)
    numbers = private.public_key().public_numbers()

    def encode(value: int) -> str:
        return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {
        "kty": "RSA",
        "n": encode(numbers.n),
        "e": encode(numbers.e),
        "kid": kid,
        "alg": "RS256",
    }


def test_weak_rsa_keys_in_a_jwks_are_skipped(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    small_exponent = _rsa_jwk(2048, 3, "e3")
    short = _rsa_jwk(1024, 65537, "short")
    for jwk in (small_exponent, short):
        with pytest.raises(InvalidKey):
            SigningKey.from_jwk(jwk)
    client = _served_client(serve, session, clock, [small_exponent, short])
    assert client.get("e3") is None
    assert client.get("short") is None


def test_encryption_and_wrong_key_ops_entries_are_skipped(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    base = key_for("ES256").to_jwk()
    entries = [
        {**base, "kid": "enc", "use": "enc"},
        {**base, "kid": "ops", "key_ops": ["encrypt", "wrapKey"]},
        {**base, "kid": "ops-str", "key_ops": "verify"},
        {**base, "kid": "curve", "alg": "ES384"},
    ]
    client = _served_client(serve, session, clock, entries)
    for kid in ("enc", "ops", "ops-str", "curve"):
        assert client.get(kid) is None


def test_private_members_in_a_fetched_jwks_never_give_a_signing_key(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    entries = [key_for(alg).to_jwk(private=True) for alg in ("EdDSA", "ES256", "RS256")]
    client = _served_client(serve, session, clock, entries)
    for alg in ("EdDSA", "ES256", "RS256"):
        key = client.get(key_for(alg).kid)
        assert key is not None
        assert not key.can_sign
        assert "d" not in key.to_jwk()


def test_duplicate_kid_jwks_refused_and_last_good_set_kept(
    serve: Callable[[Responder], RawServer], session: requests.Session, clock: FrozenClock
) -> None:
    good, evil = key_for("EdDSA"), SigningKey.generate("EdDSA")
    documents = [_jwks(good)]
    duplicate = {**evil.to_jwk(), "kid": good.kid}
    documents.append(json.dumps({"keys": [good.to_jwk(), duplicate]}).encode())
    served = iter(documents)

    def respond(conn: socket.socket) -> None:
        _reply(next(served))(conn)

    server = serve(respond)
    client = _client(server.url, session, clock)
    assert client.get(good.kid) is not None
    clock.advance(3600)
    key = client.key_set().get(good.kid)
    assert key is not None
    assert key.to_jwk()["x"] == good.to_jwk()["x"]


@pytest.mark.parametrize(
    "url",
    [
        "https://h:99999/jwks",
        "https://h:abc/jwks",
        "https://[::1/jwks",
        "https://:443/",
        "ftp://h/",
    ],
)
def test_unparseable_jwks_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        JWKSClient(url)


def test_jwks_label_never_carries_credentials_or_query() -> None:
    with JWKSClient("https://user:hunter2@127.0.0.1:8443/jwks?token=abc#frag") as client:
        assert "hunter2" not in repr(client)
        assert "abc" not in repr(client)
