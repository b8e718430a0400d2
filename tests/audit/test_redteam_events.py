"""Red team: redaction, escaping, OCSF fields and sink failures of audit events."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit, correlation
from meshsec.audit import Category, Outcome, SecurityEvent
from meshsec.secret import Secret

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl"
UNSAFE = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + [
    "\u2028",
    "\u2029",
    "\u202e",
    "\u2066",
    "\u200f",
    "\ufeff",
    "\ud800",
]


def event(**values: object) -> SecurityEvent:
    base: dict[str, object] = {"category": "token", "action": "verify", "outcome": "failure"}
    return SecurityEvent(**(base | values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "Token",
        "ACCESS-TOKEN",
        "refresh.token",
        "x_api_key",
        "X-Api-Key",
        "Pass.Word",
        "pass\u200bword",
        "pass\nword",
        "\uff54\uff4f\uff4b\uff45\uff4e",  # fullwidth "token"
        "\uff30\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",  # fullwidth "Password"
        "sessionid",
        "JSESSIONID",
        "Set-Cookie",
        "client_secret",
        "PRIVATE_KEY",
        "Authorization",
        "proxy-authorization",
        "db_passwd",
        "passphrase",
        "bearer",
        "aws_secret_access_key",
        "credentials",
    ],
)
def test_secret_looking_attribute_names_in_any_case_separator_or_width_are_redacted(name: str):
    ev = event(attributes={name: "s3cr3t-value"})
    assert list(ev.attributes.values()) == ["[REDACTED]"]
    assert "s3cr3t" not in ev.to_json()


@pytest.mark.parametrize(
    "pem",
    [
        "-----BEGIN PRIVATE KEY-----\nMIIEvQ",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow",
        "-----BEGIN EC PRIVATE KEY-----\nMHcC",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl",
        "-----BEGIN DSA PRIVATE KEY-----\nMIIB",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOY",
        "-----BEGIN SSH2 ENCRYPTED PRIVATE KEY-----\nP2/5",
        "-----begin private key-----\nMIIEvQ",
        "-----BEGIN  PRIVATE  KEY-----\nMIIEvQ",
        "-----BEGIN\tPRIVATE KEY-----\nMIIEvQ",
        "-----BEGIN\r\nPRIVATE KEY-----\nMIIEvQ",
        "----BEGIN PRIVATE KEY----\nMIIEvQ",
        "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\nAAAAIG",
        "prefix text " + "-----BEGIN PRIVATE KEY-----\nMIIEvQ",
    ],
)
def test_pem_private_keys_with_any_type_header_are_redacted_in_every_field(pem: str):
    ev = event(
        action=pem, actor=pem, target=pem, reason=pem, correlation_id=pem, attributes={"n": pem}
    )
    data = ev.to_dict()["meshsec"]
    for field in ("action", "actor", "target", "reason", "correlation_id"):
        assert data[field] == "[REDACTED]", field
    assert data["attributes"] == {"n": "[REDACTED]"}
    assert "MII" not in ev.to_json()
    assert "AAAAIG" not in ev.to_json()


def test_public_keys_and_certificates_stay_visible():
    for text in ("-----BEGIN PUBLIC KEY-----\nMFkw", "-----BEGIN CERTIFICATE-----\nMIIB"):
        assert event(attributes={"pem": text}).attributes["pem"] != "[REDACTED]"


def test_jwt_anywhere_in_any_field_is_redacted():
    hostile = f"user said: {JWT} ok"
    ev = event(actor=hostile, target=hostile, attributes={"note": hostile})
    assert JWT not in ev.to_json()
    assert ev.actor == ev.target == ev.attributes["note"] == "[REDACTED]"


def test_secret_objects_are_redacted_in_every_position():
    secret = Secret("hunter2-value")
    ev = event(
        action=secret,
        actor=secret,
        target=secret,
        reason=secret,
        attributes={"note": secret, "nested": [secret], "map": {"k": secret}},
    )
    text = ev.to_json() + repr(ev) + str(ev.to_dict())
    assert "hunter2" not in text


@pytest.mark.parametrize("char", UNSAFE)
def test_every_control_separator_and_bidi_character_is_escaped_in_every_field(char: str):
    hostile = f"a{char}b"
    ev = event(
        action=hostile,
        actor=hostile,
        target=hostile,
        reason=hostile,
        correlation_id=hostile,
        trace_id=hostile,
        attributes={hostile: hostile},
    )
    data = ev.to_dict()["meshsec"]
    texts = [data[f] for f in ("action", "actor", "target", "reason", "correlation_id", "trace_id")]
    texts += [*data["attributes"], *data["attributes"].values()]
    for text in texts:
        assert char not in text
        assert text.startswith("a\\")
    line = ev.to_json()
    assert line.isascii()
    assert "\n" not in line
    assert "\r" not in line
    assert json.loads(line)["meshsec"] == data


def test_ansi_escape_sequences_become_visible_text():
    ev = event(actor="\x1b[2J\x1b]0;pwned\x07\x9b31m")
    assert "\x1b" not in ev.actor
    assert "\x9b" not in ev.actor
    assert "\x07" not in ev.actor


@given(
    st.dictionaries(st.text(max_size=70), st.one_of(st.text(), st.floats(), st.integers())),
    st.text(),
)
def test_any_event_serializes_to_one_valid_json_line(attributes: dict[str, object], text: str):
    ev = event(actor=text, target=text, action=text or "x", attributes=attributes)
    line = ev.to_json()
    assert line.isascii()
    assert "\n" not in line
    # Strict JSON: NaN and Infinity would be accepted by a lax parser only.
    parsed = json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert parsed == ev.to_dict()
    assert len(parsed["meshsec"]["attributes"]) <= 32


VERBS = {
    "authentication": {"login": 1, "logout": 2, "logoff": 2, "preauth": 6, "anything": 1},
    "token": {
        "issue": 3,
        "mint": 3,
        "exchange": 4,
        "refresh": 5,
        "renew": 5,
        "verify": 1,
        "validate": 1,
        "introspect": 1,
        "revoke": 2,
        "frobnicate": 99,
    },
    "authorization": {"create": 1, "read": 2, "get": 2, "update": 3, "delete": 4, "decide": 99},
    "data_access": {"reveal": 2, "decrypt": 2, "detokenize": 2, "unmask": 2, "put": 3, "x": 99},
    "key": {"generate": 1, "load": 2, "rotate": 3, "destroy": 4, "enable": 8, "disable": 9},
    "certificate": {"issue": 1, "activate": 10, "revoke": 11, "retire": 11, "deactivate": 11},
    "configuration": {"reload": 3, "set": 3, "export": 2, "frobnicate": 99},
}
CLASSES = {
    "authentication": (3002, 3),
    "token": (3002, 3),
    "authorization": (6003, 6),
    "data_access": (6003, 6),
    "key": (3004, 3),
    "certificate": (3004, 3),
    "configuration": (3004, 3),
}


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize(
    ("outcome", "status_id"),
    [(Outcome.SUCCESS, 1), (Outcome.FAILURE, 2), (Outcome.DENIED, 2)],
)
def test_ocsf_fields_for_every_category_verb_and_outcome(
    category: Category, outcome: Outcome, status_id: int
):
    class_uid, category_uid = CLASSES[category.value]
    for verb, activity in VERBS[category.value].items():
        for action in (verb, f"svc.{verb}", f"{verb.upper()}", f"a/b:{verb}"):
            data = event(category=category, action=action, outcome=outcome).to_dict()
            assert data["class_uid"] == class_uid
            assert data["category_uid"] == category_uid
            assert data["activity_id"] == activity, (category, action)
            assert data["type_uid"] == class_uid * 100 + activity
            assert data["status_id"] == status_id
            assert json.loads(event(category=category, action=action, outcome=outcome).to_json())[
                "type_uid"
            ] == (class_uid * 100 + activity)
            if outcome is Outcome.DENIED or category is Category.AUTHORIZATION:
                assert data["disposition_id"] == (1 if outcome is Outcome.SUCCESS else 2)


@pytest.mark.parametrize(
    "values",
    [
        {"category": "Token"},
        {"category": "tokens"},
        {"category": "token\n"},
        {"outcome": "SUCCESS"},
        {"outcome": "allowed"},
        {"category": None},
        {"outcome": 1},
        {"attributes": ["not", "a", "mapping"]},
        {"timestamp": "2026-01-01T00:00:00Z"},
    ],
)
def test_invalid_event_values_raise_the_typed_event_error(values: dict[str, object]):
    with pytest.raises(audit.AuditEventError) as info:
        event(**values)
    assert info.value.code == "audit.invalid_event"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"meshsec": None},
        {"meshsec": {"timestamp": "not a time"}},
        {"meshsec": {"timestamp": "2026-01-01T00:00:00", "category": "token"}},
        {"meshsec": {"timestamp": 5, "category": "x", "action": "a", "outcome": "success"}},
        [],
        "string",
    ],
)
def test_from_dict_of_hostile_data_raises_the_typed_event_error(data: object):
    with pytest.raises(audit.AuditEventError):
        SecurityEvent.from_dict(data)  # type: ignore[arg-type]


class Raising:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def emit(self, event: SecurityEvent) -> None:
        raise self.exc


@pytest.mark.parametrize(
    "exc", [RuntimeError("boom"), OSError(28, "No space"), RecursionError(), MemoryError()]
)
def test_a_raising_sink_never_breaks_the_caller(exc: Exception):
    sink = Raising(exc)
    audit.configure(sink)
    audit.record("token", "verify", "failure", reason="token.expired")
    audit.emit(event())
    assert audit.dropped_count(sink) == 2


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)])
def test_base_exceptions_from_a_sink_are_not_swallowed(exc: BaseException):
    audit.configure(Raising(exc))
    with pytest.raises(type(exc)):
        audit.record("token", "verify", "failure")


def test_a_sink_failing_in_many_threads_is_logged_once_and_every_drop_counted(caplog):
    sink = Raising(RuntimeError("contains the event: secret-ish"))
    audit.configure(sink)
    with caplog.at_level(logging.ERROR, logger="meshsec.audit"):
        threads = [
            threading.Thread(
                target=lambda: [audit.record("key", "rotate", "success") for _ in range(50)]
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert audit.dropped_count(sink) == 400
    logged = [r for r in caplog.records if r.name == "meshsec.audit"]
    assert len(logged) == 1
    assert "secret-ish" not in logged[0].getMessage()


def test_events_carry_the_correlation_id_of_their_own_request_only():
    seen: dict[str, list[str | None]] = {}

    def handle(request: str) -> None:
        with correlation.scope({"X-Correlation-ID": request}):
            audit.record("authorization", "read", "denied", actor=request)

    with audit.capture() as events:
        threads = [threading.Thread(target=handle, args=(f"req-{i}",)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for ev in events:
        seen.setdefault(ev.actor or "", []).append(ev.correlation_id)
    assert seen == {f"req-{i}": [f"req-{i}"] for i in range(20)}


def test_hostile_correlation_headers_become_exactly_one_event_without_the_values():
    hostile = {
        "X-Correlation-ID": "evil\r\nid",
        "traceparent": "ff-zz",
        "baggage": "api_key=sk-live-xyz,bad key=1",
    }
    with audit.capture() as events, correlation.scope(hostile) as ctx:
        audit.record_correlation_rejections()
    (ev,) = events
    assert ev.reason == "correlation.invalid_id"
    text = ev.to_json()
    for leaked in ("evil", "sk-live", "ff-zz", "bad key"):
        assert leaked not in text
    assert ev.correlation_id == ctx.correlation_id  # the fresh, safe replacement
    assert ev.attributes["reasons"].split() == list(ctx.rejected)


class Sneaky(str):
    """A str subclass that lies about itself."""

    __slots__ = ()

    def lower(self) -> str:  # type: ignore[override]
        return "harmless"

    def __str__(self) -> str:
        return "harmless"

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("kid")


def test_a_lying_str_subclass_cannot_steer_redaction_or_escaping():
    audit._sanitize.looks_secret_key("kid")  # a cached harmless name with the same hash
    ev = event(actor=Sneaky("a\r\nb"), attributes={Sneaky("access_token"): Sneaky("s3cr3t-value")})
    assert ev.actor == "a\\x0d\\x0ab"
    assert type(ev.actor) is str
    assert dict(ev.attributes) == {"access_token": "[REDACTED]"}
    assert "s3cr3t" not in ev.to_json()
