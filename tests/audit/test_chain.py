"""The hash-chained JSONL file: every kind of tampering, and its limits."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit
from meshsec.audit import JsonlFileSink, SecurityEvent, verify_chain
from meshsec.audit._chain import ChainMac, encode_line, write_checkpoint
from meshsec.secret import Secret
from tests.audit.conftest import KEY, login, read_lines, write_chain, write_lines
from tests.audit.test_event import events as event_strategy

ATTACKER_KEY = b"attacker-key-that-is-long-enough"


def checkpoint_of(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


def report(path: Path, key: bytes | None = KEY) -> audit.ChainReport:
    return verify_chain(path, key=key)


def test_intact_chain_verifies(chain10):
    result = report(chain10)
    assert result == audit.ChainReport(ok=True, lines=10, keyed=True)
    assert result.check() is result
    assert checkpoint_of(chain10).exists()


def test_lines_are_events_plus_chain_fields(chain10):
    first = json.loads(read_lines(chain10)[0])
    assert first["seq"] == 1
    assert first["alg"] == "hmac-sha256"
    assert first["prev"] == "00" * 32
    assert len(first["mac"]) == 64
    assert SecurityEvent.from_dict(first) == SecurityEvent.from_dict(
        json.loads(login(0).to_json()) | {"meshsec": first["meshsec"]}
    )
    assert first["meshsec"]["actor"] == "user-0"


def test_edited_field_detected_at_its_line(chain10):
    lines = read_lines(chain10)
    lines[3] = lines[3].replace(b'"user-3"', b'"admin"')
    write_lines(chain10, lines)
    result = report(chain10)
    assert (result.ok, result.first_bad_line, result.problem) == (False, 4, "mac_mismatch")
    with pytest.raises(audit.AuditChainError, match="line 4"):
        result.check()


def test_inserted_forged_line_detected(chain10):
    lines = read_lines(chain10)
    forged, _ = encode_line(
        login(666).to_json(),
        seq=5,
        prev=bytes.fromhex(json.loads(lines[3])["mac"]),
        chain=ChainMac(ATTACKER_KEY),
    )
    write_lines(chain10, [*lines[:4], forged, *lines[4:]])
    assert (report(chain10).first_bad_line, report(chain10).problem) == (5, "mac_mismatch")


def test_inserted_copy_of_a_line_detected(chain10):
    lines = read_lines(chain10)
    write_lines(chain10, [*lines[:6], lines[2], *lines[6:]])
    assert (report(chain10).first_bad_line, report(chain10).problem) == (7, "prev_mismatch")


def test_deleted_middle_line_detected(chain10):
    lines = read_lines(chain10)
    del lines[4]
    write_lines(chain10, lines)
    assert (report(chain10).first_bad_line, report(chain10).problem) == (5, "prev_mismatch")


def test_deleted_first_line_detected(chain10):
    write_lines(chain10, read_lines(chain10)[1:])
    assert report(chain10).first_bad_line == 1


def test_reordered_lines_detected(chain10):
    lines = read_lines(chain10)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(chain10, lines)
    assert (report(chain10).first_bad_line, report(chain10).problem) == (3, "prev_mismatch")


def test_cut_tail_detected_against_the_checkpoint(chain10):
    write_lines(chain10, read_lines(chain10)[:7])
    result = report(chain10)
    assert (result.ok, result.lines, result.first_bad_line, result.problem) == (
        False,
        7,
        8,
        "truncated",
    )


def test_emptied_file_detected(chain10):
    chain10.write_bytes(b"")
    assert (report(chain10).first_bad_line, report(chain10).problem) == (1, "truncated")


def test_cut_tail_and_checkpoint_rewritten_without_the_key(chain10):
    lines = read_lines(chain10)[:7]
    write_lines(chain10, lines)
    head = bytes.fromhex(json.loads(lines[-1])["mac"])
    for forger in (ChainMac(ATTACKER_KEY), ChainMac(None)):
        write_checkpoint(chain10, lines=7, head=head, chain=forger)
        result = report(chain10)
        assert (result.ok, result.problem) == (False, "checkpoint_invalid")


def test_checkpoint_edited_by_hand(chain10):
    cp = checkpoint_of(chain10)
    cp.write_bytes(cp.read_bytes().replace(b'"lines":10', b'"lines":7'))
    assert report(chain10).problem == "checkpoint_invalid"


def test_deleted_checkpoint_detected(chain10):
    checkpoint_of(chain10).unlink()
    result = report(chain10)
    assert (result.ok, result.problem, result.first_bad_line) == (False, "checkpoint_missing", None)


def test_chain_rebuilt_without_the_key_detected(chain10):
    """An attacker re-chains edited lines under a key of their own, or unkeyed."""
    for forger in (ChainMac(ATTACKER_KEY), ChainMac(None)):
        rebuilt, prev = [], bytes(32)
        for number, raw in enumerate(read_lines(chain10), start=1):
            data = json.loads(raw)
            data["meshsec"]["actor"] = "nobody"
            ev = SecurityEvent.from_dict(data)
            line, prev = encode_line(ev.to_json(), seq=number, prev=prev, chain=forger)
            rebuilt.append(line)
        write_lines(chain10, rebuilt)
        write_checkpoint(chain10, lines=len(rebuilt), head=prev, chain=forger)
        result = report(chain10)
        assert (result.ok, result.first_bad_line) == (False, 1)
        assert result.problem in {"mac_mismatch", "unkeyed_line"}


def test_wrong_key_fails_at_line_one(chain10):
    assert report(chain10, key=ATTACKER_KEY).first_bad_line == 1


def test_keyed_chain_needs_its_key(chain10):
    with pytest.raises(audit.AuditKeyError, match="keyed"):
        report(chain10, key=None)


def test_appended_forged_line_detected(chain10):
    lines = read_lines(chain10)
    lines.append(lines[-1].replace(b'"user-9"', b'"user-10"').replace(b'"seq":10', b'"seq":11'))
    write_lines(chain10, lines)
    assert report(chain10).first_bad_line == 11


def test_partial_last_line_is_malformed(chain10):
    chain10.write_bytes(chain10.read_bytes()[:-20])
    assert (report(chain10).first_bad_line, report(chain10).problem) == (10, "malformed")


def test_garbage_line_is_malformed(chain10):
    lines = read_lines(chain10)
    lines[1] = b"hello\n"
    write_lines(chain10, lines)
    assert (report(chain10).first_bad_line, report(chain10).problem, report(chain10).lines) == (
        2,
        "malformed",
        10,
    )


def test_unkeyed_chain_catches_accidents_only(tmp_path):
    path = write_chain(tmp_path / "plain.jsonl", 5, key=None)
    assert report(path, key=None) == audit.ChainReport(ok=True, lines=5, keyed=False)
    lines = read_lines(path)
    lines[2] = lines[2].replace(b"user-2", b"user-X")
    write_lines(path, lines)
    assert report(path, key=None).first_bad_line == 3
    # ... but whoever edits can simply recompute an unkeyed chain (documented limit).
    rebuilt, prev = [], bytes(32)
    for number, raw in enumerate(lines, start=1):
        ev = SecurityEvent.from_dict(json.loads(raw))
        line, prev = encode_line(ev.to_json(), seq=number, prev=prev, chain=ChainMac(None))
        rebuilt.append(line)
    write_lines(path, rebuilt)
    write_checkpoint(path, lines=5, head=prev, chain=ChainMac(None))
    assert report(path, key=None).ok


def test_unkeyed_verification_of_keyed_downgrade_is_refused(tmp_path):
    """With the key in hand, an unkeyed line is a downgrade, never accepted."""
    path = write_chain(tmp_path / "plain.jsonl", 2, key=None)
    result = report(path, key=KEY)
    assert (result.first_bad_line, result.problem) == (1, "unkeyed_line")


def test_reopen_continues_the_chain(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 3)
    with JsonlFileSink(path, key=Secret(KEY)) as sink:
        sink.emit(login(3))
        sink.emit(login(4))
    assert report(path) == audit.ChainReport(ok=True, lines=5, keyed=True)
    assert json.loads(read_lines(path)[3])["seq"] == 4


def test_reopen_with_the_wrong_key_refused(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 3)
    with pytest.raises(audit.AuditChainError):
        JsonlFileSink(path, key=ATTACKER_KEY)
    with pytest.raises(audit.AuditKeyError):
        JsonlFileSink(path, key=None)  # checkpoint alg differs


def test_reopen_after_tampering_refused(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 5)
    write_lines(path, read_lines(path)[:3])
    with pytest.raises(audit.AuditChainError, match="fewer lines"):
        JsonlFileSink(path, key=KEY)
    checkpoint_of(path).unlink()
    with pytest.raises(audit.AuditChainError, match="missing"):
        JsonlFileSink(path, key=KEY)
    assert report(path).problem == "checkpoint_missing"


def test_reopen_with_a_forged_last_line_refused(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 3)
    lines = read_lines(path)
    lines[-1] = lines[-1].replace(b"user-2", b"user-X")
    write_lines(path, lines)
    with pytest.raises(audit.AuditKeyError, match="last line"):
        JsonlFileSink(path, key=KEY)


def test_checkpoint_lags_by_at_most_n_lines_while_open(tmp_path):
    path = tmp_path / "a.jsonl"
    sink = JsonlFileSink(path, key=KEY, checkpoint_every=4)
    try:
        for i in range(10):
            sink.emit(login(i))
        assert json.loads(checkpoint_of(path).read_bytes())["lines"] == 8
        assert report(path).ok
        sink.flush()
        assert json.loads(checkpoint_of(path).read_bytes())["lines"] == 10
    finally:
        sink.close()
    sink.close()  # idempotent
    with pytest.raises(audit.AuditFileError):
        sink.emit(login(11))


def test_second_writer_refused(tmp_path):
    path = tmp_path / "a.jsonl"
    with JsonlFileSink(path, key=KEY), pytest.raises(audit.AuditFileError, match="already open"):
        JsonlFileSink(path, key=KEY)


def test_unreadable_file_is_a_typed_error(tmp_path):
    with pytest.raises(audit.AuditFileError):
        verify_chain(tmp_path / "missing.jsonl", key=KEY)
    with pytest.raises(audit.AuditFileError):
        JsonlFileSink(tmp_path / "no-such-dir" / "a.jsonl", key=KEY)
    with pytest.raises(audit.AuditFileError):
        JsonlFileSink(tmp_path / "a.jsonl", key=KEY, checkpoint_every=0)


def test_concurrent_writers_keep_one_valid_chain(tmp_path):
    path = tmp_path / "a.jsonl"
    with JsonlFileSink(path, key=KEY, checkpoint_every=7) as sink:
        audit.configure(sink)

        def work(t: int) -> None:
            for i in range(200):
                audit.record("authorization", "decide", "success", actor=f"t{t}-{i}")

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        audit.configure()
    assert report(path) == audit.ChainReport(ok=True, lines=800, keyed=True)


def test_fsync_mode_writes_a_valid_chain(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 3, fsync=True)
    assert report(path).ok


def test_file_sink_through_the_emitter(tmp_path):
    path = tmp_path / "a.jsonl"
    with JsonlFileSink(path, key=KEY) as sink:
        audit.configure(sink)
        audit.record("key", "rotate", "success", attributes={"kid": "k2", "secret": "s"})
        audit.configure()
    data = json.loads(read_lines(path)[0])
    assert data["meshsec"]["attributes"] == {"kid": "k2", "secret": "[REDACTED]"}
    assert data["type_uid"] == 300403


@given(st.lists(event_strategy, min_size=1, max_size=8), st.data())
def test_round_trip_and_any_single_line_edit_detected(events, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        with JsonlFileSink(path, key=KEY) as sink:
            for ev in events:
                sink.emit(ev)
        assert verify_chain(path, key=KEY) == audit.ChainReport(
            ok=True, lines=len(events), keyed=True
        )
        lines = read_lines(path)
        assert [SecurityEvent.from_dict(json.loads(line)) for line in lines] == events
        index = data.draw(st.integers(0, len(lines) - 1))
        position = data.draw(st.integers(0, len(lines[index]) - 2))
        old = lines[index][position]
        new = data.draw(st.integers(0x20, 0x7E).filter(lambda b: b != old))
        lines[index] = lines[index][:position] + bytes([new]) + lines[index][position + 1 :]
        write_lines(path, lines)
        result = verify_chain(path, key=KEY)
        assert (result.ok, result.first_bad_line) == (False, index + 1)


def test_hostile_deeply_nested_line_is_malformed_not_a_crash(chain10):
    lines = read_lines(chain10)
    lines[5] = b'{"a":' + b"[" * 200_000 + b'],"mac":"' + b"0" * 64 + b'"}\n'
    write_lines(chain10, lines)
    assert (report(chain10).first_bad_line, report(chain10).problem) == (6, "malformed")


def test_oversized_line_is_malformed(chain10):
    lines = read_lines(chain10)
    lines[1] = b"x" * (3 << 20) + b"\n"
    write_lines(chain10, lines)
    assert report(chain10).first_bad_line == 2


def test_new_file_is_owner_only(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 1)
    assert path.stat().st_mode & 0o077 == 0
    assert checkpoint_of(path).stat().st_mode & 0o077 == 0


def test_edited_sequence_number_detected(chain10):
    lines = read_lines(chain10)
    lines[6] = lines[6].replace(b'"seq":7', b'"seq":70')
    write_lines(chain10, lines)
    assert (report(chain10).first_bad_line, report(chain10).problem) == (7, "sequence_mismatch")


def test_checkpoint_swapped_in_from_another_trail_detected(tmp_path, chain10):
    other = write_chain(tmp_path / "other.jsonl", 6)
    checkpoint_of(chain10).write_bytes(checkpoint_of(other).read_bytes())
    result = report(chain10)
    assert (result.ok, result.first_bad_line, result.problem) == (False, 6, "checkpoint_mismatch")


def test_verify_while_open_before_the_first_periodic_checkpoint(tmp_path):
    path = tmp_path / "a.jsonl"
    with JsonlFileSink(path, key=KEY) as sink:
        for i in range(3):
            sink.emit(login(i))
        assert json.loads(checkpoint_of(path).read_bytes())["lines"] == 0
        assert report(path) == audit.ChainReport(ok=True, lines=3, keyed=True)


def test_empty_keyed_trail_needs_its_key(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 0)
    assert report(path) == audit.ChainReport(ok=True, lines=0, keyed=True)
    with pytest.raises(audit.AuditKeyError):
        report(path, key=None)


def test_sink_refuses_to_write_after_fork(tmp_path, monkeypatch):
    import os

    path = tmp_path / "a.jsonl"
    with JsonlFileSink(path, key=KEY) as sink:
        sink.emit(login(0))
        real = os.getpid()
        monkeypatch.setattr(os, "getpid", lambda: real + 1)
        with pytest.raises(audit.AuditFileError, match="fork"):
            sink.emit(login(1))
        monkeypatch.undo()
    assert report(path).lines == 1
