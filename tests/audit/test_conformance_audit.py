"""Conformance: meshsec.audit and ``meshsec audit verify`` as issue 5 writes them."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

import meshsec.cli
from meshsec import audit
from meshsec.audit import LoggingSink, OTelSink, SecurityEvent
from meshsec.cli import main
from meshsec.correlation import scope
from meshsec.errors import TokenError
from tests.audit.conftest import KEY, read_lines, write_chain, write_lines

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]00:00)")
_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


@pytest.fixture(autouse=True)
def _only_present_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    present = tuple(
        name for name in meshsec.cli._COMMAND_MODULES if importlib.util.find_spec(name) is not None
    )
    monkeypatch.setattr(meshsec.cli, "_COMMAND_MODULES", present)


def _event(**changes: object) -> SecurityEvent:
    values: dict[str, object] = {
        "category": "authentication",
        "action": "login",
        "outcome": "success",
    }
    values.update(changes)
    return SecurityEvent(**values)  # type: ignore[arg-type]


# --- SecurityEvent --------------------------------------------------------------------


def test_security_event_is_frozen_attrs_with_the_issue_fields() -> None:
    assert attrs.has(SecurityEvent)
    names = {f.name for f in attrs.fields(SecurityEvent)}
    assert names == {
        "timestamp",
        "category",
        "action",
        "outcome",
        "actor",
        "target",
        "reason",
        "correlation_id",
        "trace_id",
        "attributes",
    }
    event = _event()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.action = "other"  # type: ignore[misc]


def test_timestamp_is_utc_and_rfc3339_in_json() -> None:
    event = _event()
    assert event.timestamp.tzinfo is not None
    assert event.timestamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    stamp = json.loads(event.to_json())["meshsec"]["timestamp"]
    assert _RFC3339.fullmatch(stamp)
    assert datetime.fromisoformat(stamp).astimezone(UTC) == event.timestamp


@pytest.mark.parametrize(
    "category",
    [
        "authentication",
        "authorization",
        "token",
        "key",
        "certificate",
        "data_access",
        "configuration",
    ],
)
@pytest.mark.parametrize("outcome", ["success", "failure", "denied"])
def test_every_category_and_outcome_string_is_accepted(category: str, outcome: str) -> None:
    event = _event(category=category, outcome=outcome)
    assert event.category == category
    assert event.outcome == outcome
    data = event.to_dict()
    assert data["type_uid"] == data["class_uid"] * 100 + data["activity_id"]
    assert data["status_id"] == (1 if outcome == "success" else 2)


def test_unknown_category_or_outcome_is_a_typed_error() -> None:
    with pytest.raises(audit.AuditEventError) as info:
        _event(category="made_up")
    assert info.value.code == "audit.invalid_event"
    with pytest.raises(audit.AuditEventError):
        _event(outcome="maybe")


def test_ocsf_mapping_authentication_3002_and_decisions_6003() -> None:
    auth = _event(category="authentication", action="login", outcome="failure").to_dict()
    assert (auth["class_uid"], auth["activity_id"], auth["type_uid"]) == (3002, 1, 300201)
    assert auth["status_id"] == 2
    decision = _event(category="authorization", action="read", outcome="denied").to_dict()
    assert (decision["class_uid"], decision["type_uid"]) == (6003, 600302)
    allowed = _event(category="authorization", action="read", outcome="success").to_dict()
    assert (allowed["class_uid"], allowed["status_id"]) == (6003, 1)


def test_event_carries_correlation_and_trace_id_of_the_scope() -> None:
    with audit.capture() as events, scope({"X-Correlation-ID": "req-9"}) as ctx:
        audit.record("token", "verify", "failure", actor="spiffe://example.org/web")
    (event,) = events
    assert (event.correlation_id, event.trace_id) == ("req-9", ctx.trace_id)
    assert event.actor == "spiffe://example.org/web"


def test_reason_is_an_error_code_never_a_message() -> None:
    class Expired(TokenError):
        code = "token.expired"

    with audit.capture() as events:
        audit.record("token", "verify", "failure", reason="token.expired")
        audit.record("token", "verify", "failure", reason=Expired("token for alice@x expired"))
        audit.record("token", "verify", "failure", reason=Expired)
        audit.record("token", "verify", "failure", reason=ValueError("raw value eyJzecret"))
    assert [e.reason for e in events] == [
        "token.expired",
        "token.expired",
        "token.expired",
        "ValueError",
    ]
    assert "alice" not in events[1].to_json()


# --- emit, sinks ------------------------------------------------------------------------


def test_emit_event_with_no_sink_is_a_no_op() -> None:
    audit.configure()
    assert audit.emit(_event()) is None
    assert not audit.enabled()


def test_emit_event_delivers_to_every_configured_sink() -> None:
    got: list[SecurityEvent] = []

    class ListSink:
        def emit(self, event: SecurityEvent) -> None:
            got.append(event)

    event = _event()
    previous = audit.configure(ListSink(), ListSink())
    try:
        audit.emit(event)
    finally:
        audit.configure(*previous)
    assert got == [event, event]


def test_logging_sink_writes_one_json_object_per_record_on_meshsec_audit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="meshsec.audit")
    previous = audit.configure(LoggingSink())
    try:
        audit.record("key", "rotate", "success", attributes={"kid": "k-2"})
        audit.record("authorization", "read", "denied", reason="policy.denied")
    finally:
        audit.configure(*previous)
    records = [r for r in caplog.records if r.name == "meshsec.audit"]
    assert len(records) == 2
    for record in records:
        message = record.getMessage()
        assert "\n" not in message
        data = json.loads(message)
        assert {"class_uid", "activity_id", "type_uid", "status_id"} <= set(data)
    assert json.loads(records[1].getMessage())["class_uid"] == 6003


def test_otel_sink_is_a_no_op_without_a_recording_span() -> None:
    sink = OTelSink()
    sink.emit(_event())  # no SDK span is current: nothing happens, nothing raises
    previous = audit.configure(sink)
    try:
        audit.record("key", "rotate", "success")
    finally:
        audit.configure(*previous)
    assert audit.dropped_count(sink) == 0


def test_raising_sink_does_not_break_the_caller_logged_once_counted_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def emit(self, event: SecurityEvent) -> None:
            raise OSError("disk on fire: " + str(event.attributes))

    broken = Broken()
    got: list[SecurityEvent] = []

    class Good:
        def emit(self, event: SecurityEvent) -> None:
            got.append(event)

    before = audit.dropped_count()
    previous = audit.configure(broken, Good())
    try:
        with caplog.at_level(logging.ERROR, logger="meshsec.audit"):
            for _ in range(3):
                audit.record("token", "verify", "failure")
                audit.emit(_event())
    finally:
        audit.configure(*previous)
    assert len(got) == 6  # the other sink still gets every event
    assert audit.dropped_count(broken) == 6
    assert audit.dropped_count() == before + 6
    logged = [r for r in caplog.records if r.name == "meshsec.audit" and r.levelno >= logging.ERROR]
    assert len(logged) == 1
    assert "disk on fire" not in logged[0].getMessage()


@pytest.mark.parametrize("name", ["token", "secret", "password", "authorization", "cookie", "key"])
def test_redaction_of_the_issue_key_names(name: str) -> None:
    for key in (name, name.upper(), f"x_{name}", f"{name}-value"):
        event = _event(attributes={key: "hunter2-value"})
        assert event.attributes[key] == "[REDACTED]"
        assert "hunter2" not in event.to_json()
        assert "hunter2" not in repr(event)


@pytest.mark.parametrize("value", [_JWT, f"see {_JWT} here", _PEM])
def test_redaction_of_jwt_and_pem_values_in_any_field(value: str) -> None:
    event = _event(actor=value, target=value, attributes={"note": value})
    assert event.attributes["note"] == "[REDACTED]"
    assert event.actor == "[REDACTED]"
    assert event.target == "[REDACTED]"
    text = event.to_json()
    assert "eyJzdWIi" not in text
    assert "MIIEvQ" not in text


@pytest.mark.parametrize(
    "hostile", ["a\r\nb", "a\nFAKE LINE", "\x1b[2Jcls", "nul\x00", "\u2028sep"]
)
def test_request_values_are_escaped_before_any_sink(hostile: str) -> None:
    event = _event(actor=hostile, target=hostile, attributes={"path": hostile})
    for text in (event.actor, event.target, event.attributes["path"], event.to_json()):
        assert isinstance(text, str)
        assert not any(ch in text for ch in "\r\n\x1b\x00\u2028")


# --- JsonlFileSink + meshsec audit verify ------------------------------------------------


def _verify(path: Path, *extra: str) -> int:
    return main(["audit", "verify", str(path), *extra])


def test_file_sink_lines_carry_mac_chain_and_checkpoint(tmp_path: Path) -> None:
    path = write_chain(tmp_path / "a.jsonl", 3)
    lines = [json.loads(raw) for raw in read_lines(path)]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[0]["prev"] == "0" * 64
    assert lines[1]["prev"] == lines[0]["mac"]
    assert all(line["alg"] == "hmac-sha256" for line in lines)
    checkpoint = json.loads(path.with_name("a.jsonl.checkpoint").read_bytes())
    assert (checkpoint["lines"], checkpoint["head"]) == (3, lines[2]["mac"])


def _edit(lines: list[bytes], index: int) -> list[bytes]:
    lines[index] = lines[index].replace(b"user-", b"USER-", 1)
    return lines


def _swap(lines: list[bytes], index: int) -> list[bytes]:
    lines[index], lines[index + 1] = lines[index + 1], lines[index]
    return lines


@pytest.mark.parametrize(
    ("tamper", "bad_line"),
    [
        (lambda ls: _edit(ls, 3), 4),  # edited line 4
        (lambda ls: [*ls[:2], ls[5], *ls[2:]], 3),  # a copy inserted as line 3
        (lambda ls: ls[:4] + ls[5:], 5),  # line 5 deleted
        (lambda ls: _swap(ls, 6), 7),  # lines 7 and 8 reordered
        (lambda ls: [*ls[:9], ls[9][:40]], 10),  # last line cut mid-way
        (lambda ls: ls[:7], 8),  # whole lines removed at the end (checkpoint)
    ],
    ids=["edited", "inserted", "deleted", "reordered", "cut", "tail-removed"],
)
def test_verify_reports_the_first_bad_line_for_each_tampering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: object, bad_line: int
) -> None:
    path = write_chain(tmp_path / "a.jsonl", 10)
    write_lines(path, tamper(read_lines(path)))  # type: ignore[operator]
    report = audit.verify_chain(path, key=KEY)
    assert not report.ok
    assert report.first_bad_line == bad_line
    assert _verify(path, "--key", KEY.decode()) == 1
    assert f"line {bad_line}" in capsys.readouterr().out


def test_rebuilt_chain_without_the_key_is_detected(tmp_path: Path) -> None:
    path = write_chain(tmp_path / "a.jsonl", 4)
    forged = tmp_path / "forged.jsonl"
    write_chain(forged, 4, key=b"attacker-own-key-0123456789abcdef")
    path.write_bytes(forged.read_bytes())
    path.with_name("a.jsonl.checkpoint").write_bytes(
        forged.with_name("forged.jsonl.checkpoint").read_bytes()
    )
    report = audit.verify_chain(path, key=KEY)
    assert not report.ok
    assert report.first_bad_line == 1


def test_verify_ok_exit_zero_with_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_chain(tmp_path / "a.jsonl", 5)
    assert _verify(path, "--key", KEY.decode()) == 0
    assert _verify(path, f"--key={KEY.decode()}") == 0
    out = capsys.readouterr().out
    assert "OK: 5 lines" in out
    assert "HMAC-SHA256" in out


def test_verify_without_key_falls_back_to_sha256_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(tmp_path / "a.jsonl", 3, key=None)
    assert _verify(path) == 0
    out, err = capsys.readouterr()
    assert "SHA-256" in out
    assert "only catches accidents" in out
    assert "only catches accidents" in err
    write_lines(path, _edit(read_lines(path), 1))
    assert _verify(path) == 1
    assert "line 2" in capsys.readouterr().out


def test_verify_keyed_file_without_key_is_a_key_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(tmp_path / "a.jsonl", 2)
    assert _verify(path) == 2
    assert "error [audit.bad_key]" in capsys.readouterr().err


def test_verify_with_the_wrong_key_fails_at_line_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(tmp_path / "a.jsonl", 2)
    assert _verify(path, "--key", "another-key-of-enough-length-000") == 1
    assert "line 1" in capsys.readouterr().out


def test_python_dash_m_meshsec_audit_verify(tmp_path: Path) -> None:
    path = write_chain(tmp_path / "a.jsonl", 2)
    ok = subprocess.run(
        [sys.executable, "-m", "meshsec", "audit", "verify", str(path), "--key", KEY.decode()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK: 2 lines" in ok.stdout


def test_emit_refuses_a_non_event_instead_of_blaming_the_sinks() -> None:
    got: list[object] = []

    class ListSink:
        def emit(self, event: SecurityEvent) -> None:
            got.append(event)

    sink = ListSink()
    previous = audit.configure(sink)
    try:
        with pytest.raises(audit.AuditEventError):
            audit.emit({"category": "token"})  # type: ignore[arg-type]
    finally:
        audit.configure(*previous)
    assert got == []
    assert audit.dropped_count(sink) == 0


def test_file_sink_and_verify_take_the_key_positionally_too(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    with audit.JsonlFileSink(path, KEY) as sink:
        sink.emit(_event())
    report = audit.verify_chain(path, KEY)
    assert report.ok
    assert report.keyed
    assert report.lines == 1


@pytest.mark.parametrize("tail", [b"\n", b"\r", b"\r\n"])
def test_key_file_holding_a_raw_key_that_ends_in_a_newline_byte_verifies(
    tmp_path: Path, tail: bytes
) -> None:
    raw_key = bytes(range(0x41, 0x41 + 30)) + tail  # random-looking key whose last byte is CR/LF
    path = write_chain(tmp_path / "a.jsonl", 3, key=raw_key)
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(raw_key)
    assert _verify(path, "--key-file", str(key_file)) == 0
    text_file = tmp_path / "text.key"
    text_file.write_bytes(KEY + b"\n")  # a text key file written with echo still works
    assert _verify(write_chain(tmp_path / "b.jsonl", 2), "--key-file", str(text_file)) == 0
    write_lines(path, _edit(read_lines(path), 2))
    assert _verify(path, "--key-file", str(key_file)) == 1
