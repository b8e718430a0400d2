"""SecurityEvent: construction, OCSF mapping, JSON forms, correlation."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit, correlation
from meshsec.audit import Category, Outcome, SecurityEvent
from meshsec.clock import FrozenClock
from meshsec.correlation import CorrelationContext
from meshsec.correlation._context import bind

WHEN = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def event(**changes) -> SecurityEvent:
    fields = {
        "timestamp": WHEN,
        "category": "authentication",
        "action": "login",
        "outcome": "success",
    }
    fields.update(changes)
    return SecurityEvent(**fields)


# category, action, outcome -> class_uid, activity_id, status_id, disposition_id
OCSF_TABLE = [
    ("authentication", "login", "success", 3002, 1, 1, None),
    ("authentication", "mtls.handshake", "failure", 3002, 1, 2, None),
    ("authentication", "logout", "success", 3002, 2, 1, None),
    ("authentication", "login", "denied", 3002, 1, 2, 2),
    ("token", "issue", "success", 3002, 3, 1, None),
    ("token", "exchange", "success", 3002, 4, 1, None),
    ("token", "refresh", "success", 3002, 5, 1, None),
    ("token", "verify", "failure", 3002, 1, 2, None),
    ("token", "revoke", "success", 3002, 2, 1, None),
    ("token", "something_else", "success", 3002, 99, 1, None),
    ("authorization", "decide", "success", 6003, 99, 1, 1),
    ("authorization", "decide", "denied", 6003, 99, 2, 2),
    ("authorization", "GET", "success", 6003, 2, 1, 1),
    ("authorization", "http.delete", "denied", 6003, 4, 2, 2),
    ("authorization", "decide", "failure", 6003, 99, 2, 2),
    ("data_access", "field.reveal", "success", 6003, 2, 1, None),
    ("data_access", "update", "denied", 6003, 3, 2, 2),
    ("key", "generate", "success", 3004, 1, 1, None),
    ("key", "key.rotate", "success", 3004, 3, 1, None),
    ("key", "revoke", "success", 3004, 11, 1, None),
    ("certificate", "issue", "success", 3004, 1, 1, None),
    ("certificate", "renew", "failure", 3004, 3, 2, None),
    ("configuration", "unsafe_allow_http", "success", 3004, 99, 1, None),
    ("configuration", "reload", "success", 3004, 3, 1, None),
]


@pytest.mark.parametrize(
    ("category", "action", "outcome", "class_uid", "activity", "status", "disposition"),
    OCSF_TABLE,
)
def test_ocsf_mapping(category, action, outcome, class_uid, activity, status, disposition):
    data = event(category=category, action=action, outcome=outcome).to_dict()
    assert data["class_uid"] == class_uid
    assert data["category_uid"] == class_uid // 1000
    assert data["activity_id"] == activity
    assert data["type_uid"] == class_uid * 100 + activity
    assert data["status_id"] == status
    assert data.get("disposition_id") == disposition
    assert data["severity_id"] in {1, 2, 3}
    assert data["time"] == 1772368215123
    assert data["metadata"]["version"]


def test_every_category_is_mapped():
    for category in Category:
        for outcome in Outcome:
            data = event(category=category, action="x", outcome=outcome).to_dict()
            assert data["type_uid"] // 100 == data["class_uid"]


def test_to_json_is_the_same_object_as_to_dict():
    ev = event(
        actor="alice",
        target="/orders/7",
        reason="policy.denied",
        outcome="denied",
        category="authorization",
        attributes={"method": "GET", "n": 2, "ratio": 0.5, "flag": True, "none": None},
    )
    assert json.loads(ev.to_json()) == ev.to_dict()
    assert ev.to_dict()["meshsec"]["timestamp"] == "2026-03-01T12:30:15.123456Z"
    assert ev.to_dict()["status_detail"] == "policy.denied"


def test_timestamp_normalized_to_utc():
    plus2 = timezone(timedelta(hours=2))
    ev = event(timestamp=datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus2))
    assert ev.timestamp == WHEN
    assert ev.timestamp.tzinfo is UTC


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": datetime(2026, 1, 1)},  # naive
        {"timestamp": 1700000000.0},
        {"category": "network"},
        {"outcome": "maybe"},
        {"attributes": ["not", "a", "mapping"]},
    ],
)
def test_invalid_events_rejected(changes):
    with pytest.raises(audit.AuditEventError):
        event(**changes)


def test_event_is_frozen_and_hashable():
    ev = event(attributes={"a": 1})
    with pytest.raises(AttributeError):
        ev.actor = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.attributes["a"] = 2  # type: ignore[index]
    assert hash(ev) == hash(event(attributes={"a": 1}))


def test_default_timestamp_is_now():
    before = datetime.now(UTC)
    ev = SecurityEvent(category="key", action="load", outcome="success")
    assert before <= ev.timestamp <= datetime.now(UTC)


def test_record_takes_the_clock():
    clock = FrozenClock(WHEN)
    with audit.capture() as events:
        audit.record("token", "verify", "failure", reason="token.expired", clock=clock)
    assert events[0].timestamp == WHEN


def test_event_carries_the_bound_correlation_ids():
    ctx = CorrelationContext(correlation_id="req-42", trace_id="ab" * 16)
    with audit.capture() as events:
        with bind(ctx):
            audit.record("authorization", "decide", "denied", actor="alice")
        audit.record("authorization", "decide", "denied", actor="alice")
    assert (events[0].correlation_id, events[0].trace_id) == ("req-42", "ab" * 16)
    assert events[0].to_dict()["metadata"]["correlation_uid"] == "req-42"
    assert (events[1].correlation_id, events[1].trace_id) == (None, None)


def test_event_carries_the_correlation_scope_ids():
    ctx = CorrelationContext(correlation_id="scope-7", trace_id="cd" * 16)
    with audit.capture() as events, correlation.scope(ctx):
        audit.record("token", "verify", "success")
    assert events[0].correlation_id == "scope-7"


def test_explicit_correlation_id_wins():
    with bind(CorrelationContext(correlation_id="bound")):
        ev = event(correlation_id="given")
    assert ev.correlation_id == "given"


texts = st.text(max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
events = st.builds(
    SecurityEvent,
    timestamp=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    category=st.sampled_from(Category),
    action=texts,
    outcome=st.sampled_from(Outcome),
    actor=st.none() | texts,
    target=st.none() | texts,
    reason=st.none() | texts,
    correlation_id=st.none() | texts,
    trace_id=st.none() | texts,
    attributes=st.dictionaries(texts, scalars, max_size=40),
)


@given(events)
def test_from_dict_round_trip(ev):
    assert json.loads(ev.to_json()) == ev.to_dict()
    assert SecurityEvent.from_dict(json.loads(ev.to_json())) == ev
    assert SecurityEvent.from_dict(ev.to_dict()) == ev


garbage = st.recursive(
    st.none() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)


@given(garbage, garbage)
def test_from_dict_rejects_garbage_with_typed_error(data, attributes):
    for candidate in (data, {"meshsec": data}, _almost_valid(attributes)):
        with contextlib.suppress(audit.AuditEventError):
            assert isinstance(SecurityEvent.from_dict(candidate), SecurityEvent)


def _almost_valid(attributes: object) -> dict:
    fields = json.loads(event().to_json())
    fields["meshsec"]["attributes"] = attributes
    return fields
