"""Redaction of secrets and escaping against log injection, before any sink."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit
from meshsec.audit import LoggingSink, SecurityEvent
from meshsec.secret import REDACTED, Secret

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
EC_PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
# Characters that must never reach a sink raw.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def make(**changes) -> SecurityEvent:
    fields = {"category": "token", "action": "verify", "outcome": "failure"}
    fields.update(changes)
    return SecurityEvent(**fields)


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "access_token",
        "refresh-token",
        "client_secret",
        "Password",
        "db_passwd",
        "Authorization",
        "set-cookie",
        "key",
        "signing_key",
        "apikey",
        "API_KEY",
        "credentials",
        "private_jwk",
        "x.passphrase",
        "pass\nword",
        "to\x00ken",
        "SeCrEt",
        "pass-word",
        "x_Api.Key",
    ],
)
def test_secret_looking_attribute_keys_redacted(name):
    ev = make(attributes={name: "s3cr3t-value"})
    assert list(ev.attributes.values()) == [REDACTED]
    assert "s3cr3t" not in ev.to_json()


@pytest.mark.parametrize(
    "name", ["kid", "key_id", "key-id", "key.type", "key_version", "token_type"]
)
def test_key_identifiers_stay_visible(name):
    ev = make(category="key", action="rotate", outcome="success", attributes={name: "k-2026-03"})
    assert ev.attributes == {name: "k-2026-03"}


@pytest.mark.parametrize(
    "value",
    [JWT, f"Bearer {JWT}", JWT.rsplit(".", 1)[0], PEM, EC_PEM, f"oops {EC_PEM} oops"],
)
def test_jwt_and_pem_private_key_values_redacted_everywhere(value):
    ev = make(
        actor=value,
        target=value,
        reason=value,
        correlation_id=value,
        attributes={"detail": value},
    )
    assert ev.actor == ev.target == ev.reason == ev.correlation_id == REDACTED
    assert ev.attributes["detail"] == REDACTED
    assert "eyJ" not in ev.to_json()
    assert "PRIVATE KEY" not in ev.to_json()


@pytest.mark.parametrize(
    "value",
    [
        "Bearer 2YotnFZFEjr1zCsicMWpAA",
        "authorization: Basic dXNlcjpwYXNzd29yZA==",
        "https://admin:hunter2@db.internal:5432/orders",
        "redis://:hunter2@127.0.0.1:6379/0",
    ],
)
def test_http_credentials_and_url_passwords_redacted(value):
    assert make(target=value, attributes={"detail": value}).target == REDACTED
    assert make(attributes={"detail": value}).attributes["detail"] == REDACTED


@pytest.mark.parametrize(
    "value",
    ["basic auth failed", "Bearer token missing", "https://db.internal/orders", "user@example.org"],
)
def test_harmless_text_kept(value):
    assert make(target=value).target == value


def test_public_pem_is_not_redacted():
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    assert make(attributes={"chain": cert}).attributes["chain"].startswith("-----BEGIN CERT")


def test_secret_instances_redacted_anywhere():
    ev = make(
        actor=Secret("hunter2"),  # type: ignore[arg-type]
        target=Secret(b"hunter2"),  # type: ignore[arg-type]
        attributes={"harmless": Secret(b"hunter2")},
    )
    assert ev.actor == ev.target == REDACTED
    assert ev.attributes == {"harmless": REDACTED}
    assert "hunter2" not in ev.to_json()


def test_non_scalar_attribute_values_become_type_placeholders():
    class Key:
        def __str__(self) -> str:
            return "hunter2"

    ev = make(attributes={"obj": Key(), "raw": b"hunter2", "nested": {"a": "hunter2"}})
    assert ev.attributes == {"obj": "<Key>", "raw": "<bytes>", "nested": "<dict>"}


def test_attributes_bounded():
    ev = make(attributes={f"k{i}": "v" * 10_000 for i in range(100)})
    assert len(ev.attributes) == 32
    assert ev.attributes["attributes_dropped"] == 69
    assert all(len(str(v)) <= 256 for v in ev.attributes.values())
    assert len(make(actor="a" * 100_000).actor or "") <= 512
    assert len(make(action="a" * 100_000).action) <= 128


def test_odd_numbers_kept_json_safe():
    ev = make(attributes={"nan": float("nan"), "inf": float("inf"), "big": 10**400, "ok": 1.5})
    assert ev.attributes == {"nan": "nan", "inf": "inf", "big": "<int out of range>", "ok": 1.5}
    json.loads(ev.to_json())


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("alice\r\nINFO forged entry", "alice\\x0d\\x0aINFO forged entry"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("nul\x00byte", "nul\\x00byte"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("line\u2028sep", "line\\u2028sep"),
        ("trojan\u202esource", "trojan\\u202esource"),
        ("caf\u00e9 ok", "caf\u00e9 ok"),
    ],
)
def test_log_injection_escaped_as_visible_text(raw, shown):
    ev = make(actor=raw)
    assert ev.actor == shown


text_with_controls = st.lists(
    st.text(max_size=20)
    | st.sampled_from(["\r\n", "\n", "\x1b[2J", "\x1b]0;t\x07", "\x00", "\u2028", "\ud800"]),
    max_size=12,
).map("".join)


@given(
    actor=text_with_controls,
    target=text_with_controls,
    action=text_with_controls,
    reason=text_with_controls,
    correlation_id=text_with_controls,
    trace_id=text_with_controls,
    key=text_with_controls,
    value=text_with_controls,
)
def test_no_control_character_reaches_any_sink(
    actor, target, action, reason, correlation_id, trace_id, key, value
):
    ev = make(
        actor=actor,
        target=target,
        action=action,
        reason=reason,
        correlation_id=correlation_id,
        trace_id=trace_id,
        attributes={key: value},
    )
    fields = [ev.actor, ev.target, ev.action, ev.reason, ev.correlation_id, ev.trace_id]
    fields += [*ev.attributes, *(str(v) for v in ev.attributes.values())]
    for field in fields:
        assert field is not None
        assert UNSAFE.search(field) is None
    line = ev.to_json()
    assert line.isascii()
    decoded = json.dumps(json.loads(line), ensure_ascii=False)
    assert UNSAFE.search(json.loads(line)["meshsec"]["actor"]) is None
    assert "\n" not in decoded
    assert "\x1b" not in decoded


@given(text_with_controls)
def test_cleaning_is_idempotent(raw):
    once = make(actor=raw, action=raw, attributes={raw: raw})
    twice = make(actor=once.actor, action=once.action, attributes=once.attributes)
    assert (twice.actor, twice.action, twice.attributes) == (
        once.actor,
        once.action,
        once.attributes,
    )


def test_logging_sink_message_is_one_clean_json_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("meshsec.audit")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        audit.configure(LoggingSink())
        audit.record(
            "authentication",
            "login\r\nCRITICAL fake",
            "failure",
            actor="\x1b]0;pwned\x07mallory",
            attributes={"token": "abc", "path": "/a\n/b"},
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    out = stream.getvalue()
    assert out.count("\n") == 1
    assert "\x1b" not in out
    assert "\x07" not in out
    data = json.loads(out)
    assert data["meshsec"]["attributes"] == {"token": REDACTED, "path": "/a\\x0a/b"}
    assert data["class_uid"] == 3002


def test_huge_hostile_values_are_bounded_before_matching():
    """A megabyte of near-JWT text: the regexes only ever see the bounded prefix
    (were they to scan it all, this test would take minutes, not milliseconds)."""
    hostile = "eyJ" * 400_000
    ev = make(actor=hostile, target="\x1b" * 1_000_000, attributes={"v": hostile})
    assert len(ev.actor or "") <= 512
    assert len(ev.target or "") <= 512


def test_logging_sink_attaches_the_event_and_respects_the_level(caplog):
    audit.configure(LoggingSink(level=logging.DEBUG))
    with caplog.at_level(logging.INFO, logger="meshsec.audit"):
        audit.record("key", "load", "success")  # DEBUG is below the threshold
    assert caplog.records == []
    with caplog.at_level(logging.DEBUG, logger="meshsec.audit"):
        audit.record("key", "load", "success")
    (rec,) = caplog.records
    assert isinstance(rec.audit_event, SecurityEvent)
    assert json.loads(rec.getMessage()) == rec.audit_event.to_dict()
