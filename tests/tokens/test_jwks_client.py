"""JWKSClient against real loopback servers (HTTP with unsafe_allow_http, and HTTPS)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError
from meshsec.tokens import (
    JWKSClient,
    JWKSUnavailable,
    KeySet,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    UnknownKey,
)

from ._helpers import forge, key_for
from .conftest import AUDIENCE, ISSUER
from .jwks_server import JWKSServer


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    running = JWKSServer()
    running.body = json.dumps(KeySet([key_for("EdDSA")]).to_jwks()).encode()
    yield running
    running.close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        made.trust_env = False  # never route loopback tests through a proxy
        yield made


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


def _client(
    server: JWKSServer, session: requests.Session, clock: FrozenClock, **options
) -> JWKSClient:
    return JWKSClient(server.url, session=session, unsafe_allow_http=True, clock=clock, **options)


def test_http_refused_without_unsafe_opt_in(server: JWKSServer) -> None:
    with pytest.raises(ConfigError):
        JWKSClient(server.url)


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/jwks", "file:///etc/passwd", "https://", "jwks.json"]
)
def test_non_https_urls_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        JWKSClient(url, unsafe_allow_http=True)


def test_unsafe_allow_http_is_audited(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    with audit.capture() as events:
        _client(server, session, clock)
    assert [(e.category, e.action, e.reason) for e in events] == [
        (audit.Category.CONFIGURATION, "jwks.unsafe_allow_http", "config.unsafe_allow_http")
    ]


def test_verifier_with_jwks_over_loopback_http(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    issuer = TokenIssuer(issuer=ISSUER, keys=KeySet([key_for("EdDSA")]), clock=clock)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=_client(server, session, clock), clock=clock
    )
    assert verifier.verify(issuer.issue("web", AUDIENCE)).subject == "web"
    assert server.requests == 1


def test_https_loopback_with_own_ca(
    tmp_path: Path, session: requests.Session, clock: FrozenClock
) -> None:
    tls = JWKSServer(tls_dir=tmp_path)
    try:
        tls.body = json.dumps(KeySet([key_for("ES256")]).to_jwks()).encode()
        session.verify = str(tls.ca_file)
        client = JWKSClient(tls.url, session=session, clock=clock)
        assert client.get(key_for("ES256").kid) is not None
        # Without the CA the certificate is not trusted: fail closed.
        with requests.Session() as untrusting:
            untrusting.trust_env = False
            with pytest.raises(JWKSUnavailable):
                JWKSClient(tls.url, session=untrusting, clock=clock).key_set()
    finally:
        tls.close()


def test_cache_control_max_age_honoured(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.headers["Cache-Control"] = "public, max-age=600"
    client = _client(server, session, clock)
    client.key_set()
    clock.advance(599)
    client.key_set()
    assert server.requests == 1
    clock.advance(1)
    client.key_set()
    assert server.requests == 2


def test_max_age_clamped_to_min_refetch_interval(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.headers["Cache-Control"] = "no-store"
    client = _client(server, session, clock, min_refetch_interval=timedelta(seconds=30))
    for _ in range(20):
        client.key_set()
        clock.advance(1)
    assert server.requests == 1


def test_default_max_age_without_cache_control(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    client = _client(server, session, clock, default_max_age=timedelta(minutes=5))
    client.key_set()
    clock.advance(299)
    client.key_set()
    assert server.requests == 1
    clock.advance(1)
    client.key_set()
    assert server.requests == 2


def test_unknown_kid_flood_is_rate_limited(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    client = _client(server, session, clock, min_refetch_interval=timedelta(seconds=30))
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=client, clock=clock)
    attacker = SigningKey.generate()
    header = {"alg": "EdDSA", "typ": "at+jwt"}
    payload = {"iss": ISSUER, "sub": "x", "aud": AUDIENCE, "exp": clock() + 60, "jti": "j"}
    for index in range(200):
        with pytest.raises(UnknownKey):
            verifier.verify(forge({**header, "kid": f"made-up-{index}"}, payload, attacker))
    assert server.requests == 1  # the first fetch; every unknown kid after it waits
    clock.advance(30)
    with pytest.raises(UnknownKey):
        verifier.verify(forge({**header, "kid": "another"}, payload, attacker))
    assert server.requests == 2


def test_unknown_kid_from_concurrent_threads_fetches_once(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    client = _client(server, session, clock)
    client.key_set()
    clock.advance(31)
    barrier = threading.Barrier(8)

    def look() -> None:
        barrier.wait()
        for index in range(20):
            client.get(f"nope-{index}")

    threads = [threading.Thread(target=look) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.requests == 2


def test_rotation_picked_up_through_unknown_kid(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    keys = KeySet([SigningKey.generate()])
    server.body = json.dumps(keys.to_jwks()).encode()
    server.headers["Cache-Control"] = "max-age=3600"
    issuer = TokenIssuer(issuer=ISSUER, keys=keys, clock=clock)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=_client(server, session, clock), clock=clock
    )
    verifier.verify(issuer.issue("web", AUDIENCE))
    keys.rotate()
    server.body = json.dumps(keys.to_jwks()).encode()
    clock.advance(31)
    assert verifier.verify(issuer.issue("web", AUDIENCE)).subject == "web"
    assert server.requests == 2


def test_stale_if_error_serves_last_good_keys(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.headers["Cache-Control"] = "max-age=60"
    client = _client(server, session, clock, stale_if_error=timedelta(minutes=10))
    kid = key_for("EdDSA").kid
    assert client.get(kid) is not None
    server.status = 503
    clock.advance(61)
    with audit.capture() as events:
        assert client.get(kid) is not None  # stale, within the window
    assert any(e.action == "jwks.fetch" and e.reason == "token.jwks_unavailable" for e in events)
    clock.advance(10 * 60)
    with pytest.raises(JWKSUnavailable):
        client.get(kid)


def test_first_fetch_failure_fails_closed(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.status = 500
    client = _client(server, session, clock)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=client, clock=clock)
    token = TokenIssuer(issuer=ISSUER, keys=KeySet([key_for("EdDSA")]), clock=clock).issue(
        "w", AUDIENCE
    )
    with pytest.raises(JWKSUnavailable):
        verifier.verify(token)
    with pytest.raises(JWKSUnavailable):
        verifier.verify(token)
    assert server.requests == 1  # failures are rate-limited too


def test_response_size_limit_enforced_while_streaming(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    document = KeySet([key_for("EdDSA")]).to_jwks()
    document["padding"] = "x" * 5000
    server.body = json.dumps(document).encode()
    server.headers["Content-Length"] = "100"  # a lying length does not bypass the limit
    server.headers.pop("Content-Length")
    server.headers["Transfer-Encoding"] = "chunked"
    server.body = _chunked(server.body)
    with pytest.raises(JWKSUnavailable):
        _client(server, session, clock, max_bytes=1024).key_set()


def _chunked(body: bytes) -> bytes:
    out = b""
    for start in range(0, len(body), 512):
        piece = body[start : start + 512]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def test_declared_oversize_refused_before_reading(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.body = b"{" + b" " * 4000 + b'"keys": []}'
    with pytest.raises(JWKSUnavailable):
        _client(server, session, clock, max_bytes=1024).key_set()


def test_slow_body_hits_total_timeout(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.trickle = 0.05
    with pytest.raises(JWKSUnavailable):
        _client(server, session, clock, timeout=timedelta(seconds=0.5)).key_set()


@pytest.mark.parametrize("body", [b"not json", b'{"keys": 3}', b"[]", b'{"keys": [], "keys": []}'])
def test_invalid_documents_fail_closed(
    server: JWKSServer, session: requests.Session, clock: FrozenClock, body: bytes
) -> None:
    server.body = body
    with pytest.raises(JWKSUnavailable):
        _client(server, session, clock).key_set()


def test_redirects_not_followed(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.status = 302
    server.headers["Location"] = "http://127.0.0.1:9/elsewhere"
    with pytest.raises(JWKSUnavailable):
        _client(server, session, clock).key_set()
    assert server.requests == 1


def test_jwks_with_private_members_yields_public_keys_only(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.body = json.dumps({"keys": [key_for("EdDSA").to_jwk(private=True)]}).encode()
    key = _client(server, session, clock).get(key_for("EdDSA").kid)
    assert key is not None
    assert not key.can_sign


def test_owned_session_closed(
    server: JWKSServer, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with JWKSClient(server.url, unsafe_allow_http=True, clock=clock) as client:
        assert len(client.key_set()) == 1
    assert "jwks.json" in repr(client)


def test_refresh_in_progress_does_not_block_when_stale_keys_exist(
    server: JWKSServer, session: requests.Session, clock: FrozenClock
) -> None:
    server.headers["Cache-Control"] = "max-age=60"
    client = _client(server, session, clock)
    kid = key_for("EdDSA").kid
    assert client.get(kid) is not None
    clock.advance(61)
    server.trickle = 0.01  # the next fetch is slow (about 1.5 s)
    fetching = threading.Thread(target=client.key_set)
    fetching.start()
    while server.requests < 2:
        time.sleep(0.005)
    started = time.monotonic()
    assert client.get(kid) is not None  # served from the stale set, not queued
    assert time.monotonic() - started < 0.5
    fetching.join()
