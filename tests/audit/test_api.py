"""Public surface, errors, and secrets kept out of every repr."""

from __future__ import annotations

from pathlib import Path

import pytest

import meshsec.audit
from meshsec import audit
from meshsec.audit import JsonlFileSink, LoggingSink, OTelSink, SecurityEvent
from meshsec.errors import ConfigError, MeshsecError
from meshsec.secret import Secret
from tests.api import assert_all_is_public, assert_raised_errors_exported
from tests.audit.conftest import KEY


def test_all_lists_exactly_the_public_names():
    assert_all_is_public(meshsec.audit)


def test_every_raised_error_is_exported():
    assert_raised_errors_exported(meshsec.audit)


def test_error_codes_and_bases():
    assert audit.AuditChainError.code == "audit.chain_broken"
    assert issubclass(audit.AuditChainError, MeshsecError)
    assert issubclass(audit.AuditKeyError, ConfigError)
    assert issubclass(audit.AuditKeyError, ValueError)
    assert issubclass(audit.AuditEventError, ConfigError)
    codes = {
        cls.code
        for cls in (
            audit.AuditError,
            audit.AuditChainError,
            audit.AuditFileError,
            audit.AuditKeyError,
            audit.AuditEventError,
        )
    }
    assert len(codes) == 5


def test_nothing_configured_at_import():
    assert audit.configure() == ()
    assert not audit.enabled()


@pytest.mark.parametrize("key", [KEY, Secret(KEY), Secret(KEY.decode())])
def test_file_sink_repr_never_shows_the_key(tmp_path: Path, key):
    with JsonlFileSink(tmp_path / "a.jsonl", key=key) as sink:
        text = repr(sink) + str(sink)
    assert KEY.decode() not in text
    assert KEY.hex() not in text
    assert "hmac-sha256" in text
    assert "closed" in repr(sink)


def test_sink_reprs_are_plain():
    assert repr(LoggingSink()) == "LoggingSink(logger='meshsec.audit', level='INFO')"
    assert repr(OTelSink()) == "OTelSink()"


def test_event_repr_never_shows_a_secret():
    event = SecurityEvent(
        category="key",
        action="rotate",
        outcome="success",
        actor=Secret("hunter2-actor"),  # type: ignore[arg-type]
        attributes={"password": "hunter2", "value": Secret("hunter2-value"), "kid": "k-1"},
    )
    assert "hunter2" not in repr(event)
    assert "hunter2" not in event.to_json()
    assert "k-1" in repr(event)


def test_key_error_message_does_not_quote_the_key():
    with pytest.raises(audit.AuditKeyError) as info:
        JsonlFileSink("unused.jsonl", key=b"short-key")
    assert "short-key" not in str(info.value)
    assert info.value.code == "audit.bad_key"


@pytest.mark.parametrize("key", [b"", "", "short", 1234, bytearray(b"x" * 32)])
def test_unusable_keys_rejected(key):
    with pytest.raises(audit.AuditKeyError):
        audit.verify_chain("unused.jsonl", key=key)


def test_a_text_key_is_its_utf8_bytes(tmp_path):
    path = tmp_path / "a.jsonl"
    with JsonlFileSink(path, key="an operator's audit passphrase") as sink:
        sink.emit(audit.SecurityEvent(category="key", action="rotate", outcome="success"))
    assert audit.verify_chain(path, key="an operator's audit passphrase").ok
    assert audit.verify_chain(path, key=b"an operator's audit passphrase").ok


def test_logging_sink_reaches_handlers_under_the_default_root_level(caplog):
    """A configured sink is wanted: the inherited WARNING level does not swallow events."""
    import json
    import logging

    assert logging.getLogger("meshsec.audit").level == logging.NOTSET
    sink = audit.LoggingSink()
    sink.emit(audit.SecurityEvent(category="token", action="verify", outcome="failure"))
    records = [r for r in caplog.records if r.name == "meshsec.audit"]
    assert len(records) == 1
    assert json.loads(records[0].getMessage())["meshsec"]["action"] == "verify"


def test_logging_sink_honours_a_level_set_on_its_logger(caplog):
    import logging

    logger = logging.getLogger("meshsec.audit")
    logger.setLevel(logging.ERROR)
    try:
        audit.LoggingSink().emit(
            audit.SecurityEvent(category="token", action="verify", outcome="failure")
        )
    finally:
        logger.setLevel(logging.NOTSET)
    assert not [r for r in caplog.records if r.name == "meshsec.audit"]
