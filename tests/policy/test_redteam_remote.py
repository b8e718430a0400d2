"""Red team: hostile OPA servers and policy origins fail closed, fast, and keep the last good."""

from __future__ import annotations

import gzip
import json
import os
import time
from typing import Any

import pytest

from meshsec import audit
from meshsec.policy import Engine, OpaAuthorizer, PolicyConfigError, PolicyStore

from .helpers import rule
from .servers import reply, serve


def _drain(handler: Any) -> None:
    handler.rfile.read(int(handler.headers.get("Content-Length", "0")))


def _answer(status: int, body: bytes, **headers: str):
    def handle(handler: Any) -> None:
        _drain(handler)
        reply(handler, status, body, **headers)

    return handle


def _dribble(body: bytes, pause: float):
    def handle(handler: Any) -> None:
        _drain(handler)
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(pause)
        except OSError:
            pass  # the client gave up, as it should

    return handle


def _opa(handler: Any) -> tuple[bool, tuple[str, ...], float]:
    with serve(handle_post=handler) as url, OpaAuthorizer(url, "authz/allow") as opa:
        started = time.monotonic()
        decision = opa.decide("alice", "read", "doc:1")
        return decision.allowed, decision.reasons, time.monotonic() - started


@pytest.mark.parametrize(
    "body",
    [
        b'{"result": 1}',
        b'{"result": "true"}',
        b'{"result": [true]}',
        b'{"result": {"allow": true}}',
        b'{"result": null}',
        b'{"Result": true}',
        b"[true]",
        b"true",
        b'{"result": true, "result": false}',
        b'{"result": false, "result": true}',
        b'{"result": tru',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_opa_anything_but_result_true_denies(body: bytes) -> None:
    allowed, reasons, _ = _opa(_answer(200, body))
    assert not allowed
    assert "fail closed" in reasons[0] or "refused" in reasons[0]


@pytest.mark.parametrize("status", [201, 204, 301, 302, 307, 308, 400, 404, 500, 503])
def test_opa_non_200_denies_even_with_a_true_body(status: int) -> None:
    handler = _answer(status, b'{"result": true}', Location="/v1/data/authz/allow")
    allowed, _, _ = _opa(handler)
    assert not allowed


def test_opa_dribbling_server_is_cut_off_at_the_total_timeout() -> None:
    # Each byte arrives well inside the 2 s read timeout; the whole answer would take 6 s.
    allowed, reasons, elapsed = _opa(_dribble(b'{"result": true}' + b" " * 14, 0.2))
    assert not allowed
    assert "too slow" in reasons[0]
    assert elapsed < 4.5


def test_opa_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b'{"result": true' + b" " * (8 * 1024 * 1024) + b"}")
    allowed, reasons, _ = _opa(_answer(200, bomb, Content_Encoding="gzip"))
    assert not allowed
    assert "too large" in reasons[0]


def test_opa_denials_are_audited_with_the_decision_id() -> None:
    with (
        serve(handle_post=_answer(500, b"")) as url,
        OpaAuthorizer(url, "authz/allow") as opa,
        audit.capture() as events,
    ):
        decision = opa.decide("alice", "read", "doc:1")
    assert [e.outcome for e in events] == [audit.Outcome.DENIED]
    assert events[0].attributes["decision_id"] == decision.decision_id
    assert events[0].reason == "policy.denied"


# -- PolicyStore over HTTP ---------------------------------------------------

GOOD = json.dumps({"version": 1, "rules": [rule("a")]}).encode()


class _Origin:
    def __init__(self) -> None:
        self.status, self.body, self.etag = 200, GOOD, '"v1"'
        self.dribble: float | None = None

    def __call__(self, handler: Any) -> None:
        if self.dribble is not None:
            _dribble(self.body, self.dribble)(handler)
        elif handler.headers.get("If-None-Match") == self.etag and self.status == 200:
            reply(handler, 304, b"")
        else:
            reply(handler, self.status, self.body, ETag=self.etag, Location="http://127.0.0.1:9/")


@pytest.fixture
def origin_store():
    origin = _Origin()
    with (
        serve(origin) as base,
        PolicyStore(f"{base}/p.json?sig=s3cr3t", unsafe_allow_http=True, timeout=1.0) as store,
    ):
        yield origin, store


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>maintenance</html>"),
        (200, b'{"version": 1, "rules": [], "rules": []}'),
        (200, b""),
        (302, GOOD),
        (500, GOOD),
    ],
)
def test_store_garbage_keeps_last_good_and_audits_once(origin_store, status, body) -> None:
    origin, store = origin_store
    good = store.current
    origin.status, origin.body, origin.etag = status, body, '"v2"'
    with audit.capture() as events:
        assert store.poll() is False
        store.poll()
    assert store.current is good
    failures = [e for e in events if e.outcome == audit.Outcome.FAILURE]
    assert failures
    assert failures[0].action == "policy.reload"
    assert failures[0].attributes["kept_version"] == good.version_id
    if status == 200:
        assert len(failures) == 1  # the bad version is remembered by its ETag


def test_store_recovers_when_the_origin_is_fixed(origin_store) -> None:
    origin, store = origin_store
    origin.body, origin.etag = b"garbage", '"v2"'
    store.poll()
    origin.body, origin.etag = json.dumps({"version": 1, "rules": [rule("b")]}).encode(), '"v3"'
    assert store.poll() is True
    assert store.current.rules[0].id == "b"


def test_store_dribbling_origin_is_cut_off(origin_store) -> None:
    origin, store = origin_store
    good = store.current
    origin.body = json.dumps({"version": 1, "rules": [rule("c")]}).encode() + b" " * 40
    origin.dribble = 0.1  # about 8 s in all, each byte well inside the 1 s read timeout
    started = time.monotonic()
    assert store.poll() is False
    assert time.monotonic() - started < 4.0
    assert store.current is good


def test_store_url_query_stays_out_of_repr_and_audit(origin_store) -> None:
    origin, store = origin_store
    assert "s3cr3t" not in repr(store)
    origin.body, origin.etag = b"garbage", '"v9"'
    with audit.capture() as events:
        store.poll()
    assert events
    assert all("s3cr3t" not in str(e) for e in events)


# -- PolicyStore over a file -------------------------------------------------


def _write(path, data: bytes, bump: int) -> None:
    path.write_bytes(data)
    stamp = time.time() + bump
    os.utime(path, (stamp, stamp))


def test_partially_written_and_deleted_files_keep_last_good(tmp_path) -> None:
    path = tmp_path / "p.json"
    _write(path, GOOD, 0)
    with PolicyStore(path) as store:
        engine = Engine(store, cache_size=0)
        good = store.current
        for bump, damage in ((10, GOOD[: len(GOOD) // 2]), (20, b""), (30, b"\x00" * 64)):
            _write(path, damage, bump)
            with audit.capture() as events:
                assert store.poll() is False
            assert store.current is good
            assert [e.outcome for e in events] == [audit.Outcome.FAILURE]
            assert engine.decide("u", "r", "d:1").allowed
        path.unlink()
        with audit.capture() as events:
            assert store.poll() is False
        assert store.current is good
        assert events[0].reason == "policy.invalid"
        _write(path, json.dumps({"version": 1, "rules": [rule("d", "deny")]}).encode(), 40)
        assert store.poll() is True
        assert not engine.decide("u", "r", "d:1").allowed


def test_store_first_load_of_garbage_raises_a_typed_error(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(PolicyConfigError):
        PolicyStore(path)
