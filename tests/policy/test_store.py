"""PolicyStore: file polling, HTTPS with ETag, last-good on bad updates, audit events."""

from __future__ import annotations

import json
import os
import time

import pytest

from meshsec import audit
from meshsec.policy import Engine, PolicyConfigError, PolicyStore

from .helpers import rule
from .servers import reply, self_signed, serve


def doc(*rules) -> str:
    return json.dumps({"version": 1, "rules": list(rules)})


def write(path, text: str, bump: int) -> None:
    path.write_text(text)
    # Make the change visible even on file systems with coarse mtimes.
    stamp = time.time() + bump
    os.utime(path, (stamp, stamp))


def test_file_reload_swaps_and_engine_follows(tmp_path) -> None:
    path = tmp_path / "policy.json"
    write(path, doc(rule("a")), 0)
    with audit.capture() as events:
        store = PolicyStore(path)
    assert events[0].category == audit.Category.CONFIGURATION
    assert events[0].outcome == audit.Outcome.SUCCESS
    eng = Engine(store)
    assert eng.decide("u", "read", "doc:1").allowed
    assert store.poll() is False  # unchanged
    write(path, doc(rule("a"), rule("d", "deny")), 5)
    with audit.capture() as events:
        assert store.poll() is True
    assert events[0].attributes["version"] == store.current.version_id
    assert not eng.decide("u", "read", "doc:1").allowed
    assert eng.policy_version == store.current.version_id


def test_invalid_update_keeps_last_good_and_is_audited_once(tmp_path) -> None:
    path = tmp_path / "policy.json"
    write(path, doc(rule("a")), 0)
    store = PolicyStore(path)
    good = store.current
    write(path, doc(rule("a"), rule("a", "deny")), 5)  # duplicate id
    with audit.capture() as events:
        assert store.poll() is False
        assert store.poll() is False
    assert store.current is good
    assert len(events) == 1
    assert events[0].outcome == audit.Outcome.FAILURE
    assert events[0].reason == "policy.invalid"
    assert events[0].attributes["kept_version"] == good.version_id
    write(path, "{", 10)
    assert store.poll() is False
    assert store.current is good


def test_unchanged_content_with_new_mtime_is_not_a_reload(tmp_path) -> None:
    path = tmp_path / "policy.json"
    write(path, doc(rule("a")), 0)
    store = PolicyStore(path)
    write(path, doc(rule("a")), 5)
    assert store.poll() is False


def test_yaml_file(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nrules:\n  - id: a\n    effect: allow\n    principals: ['*']\n"
        "    actions: [read]\n    resources: ['doc:*']\n"
    )
    assert Engine(PolicyStore(path)).decide("u", "read", "doc:1").allowed


def test_first_load_must_succeed(tmp_path) -> None:
    with pytest.raises(PolicyConfigError):
        PolicyStore(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1}')
    with pytest.raises(PolicyConfigError):
        PolicyStore(bad)


def test_background_thread_polls(tmp_path) -> None:
    path = tmp_path / "policy.json"
    write(path, doc(rule("a")), 0)
    store = PolicyStore(path)
    eng = Engine(store)
    store.start(interval=0.01)
    try:
        write(path, doc(rule("d", "deny")), 5)
        deadline = time.monotonic() + 5
        while eng.decide("u", "r", "d:1").allowed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not eng.decide("u", "r", "d:1").allowed
    finally:
        store.close()


class _Origin:
    """A policy origin that honours If-None-Match."""

    def __init__(self, body: str) -> None:
        self.body, self.status, self.requests = body, 200, []

    def __call__(self, handler) -> None:
        etag = '"' + str(abs(hash(self.body))) + '"'
        self.requests.append(handler.headers.get("If-None-Match"))
        if self.status != 200:
            reply(handler, self.status, b"nope")
        elif handler.headers.get("If-None-Match") == etag:
            reply(handler, 304, b"")
        else:
            reply(handler, 200, self.body.encode(), ETag=etag)


def test_https_url_with_etag(tmp_path) -> None:
    origin = _Origin(doc(rule("a")))
    cert, key = self_signed(tmp_path)
    with (
        serve(origin, tls=(cert, key)) as base,
        PolicyStore(f"{base}/policy.json", ca_bundle=cert) as store,
    ):
        eng = Engine(store)
        assert eng.decide("u", "r", "d:1").allowed
        assert store.poll() is False
        assert origin.requests[-1] is not None  # sent If-None-Match, got 304
        origin.body = doc(rule("a"), rule("d", "deny"))
        assert store.poll() is True
        assert not eng.decide("u", "r", "d:1").allowed
        good = store.current
        origin.status = 500
        with audit.capture() as events:
            assert store.poll() is False
        assert store.current is good
        assert events[0].outcome == audit.Outcome.FAILURE


def test_https_with_untrusted_certificate_fails(tmp_path) -> None:
    origin = _Origin(doc(rule("a")))
    cert, key = self_signed(tmp_path)
    with serve(origin, tls=(cert, key)) as base, pytest.raises(PolicyConfigError):
        PolicyStore(f"{base}/policy.json")


def test_plain_http_needs_the_unsafe_flag(tmp_path) -> None:
    with pytest.raises(PolicyConfigError, match="https"):
        PolicyStore("http://127.0.0.1:9/policy.json")
    origin = _Origin(doc(rule("a")))
    with (
        serve(origin) as base,
        audit.capture() as events,
        PolicyStore(f"{base}/p.json", unsafe_allow_http=True) as store,
    ):
        assert store.current.rules[0].id == "a"
    assert events[0].action == "policy.unsafe_allow_http"
