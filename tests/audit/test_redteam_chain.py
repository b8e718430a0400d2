"""Red team: tampering with the hash-chained file, reported at the right line."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from meshsec import audit
from meshsec.audit import JsonlFileSink, verify_chain
from meshsec.audit._chain import ChainMac, write_checkpoint
from meshsec.secret import Secret
from tests.audit.conftest import KEY, login, read_lines, write_chain, write_lines

ATTACKER_KEY = b"attacker-key-that-is-long-enough"


def problem(path: Path, key: bytes | None = KEY) -> tuple[bool, int | None, str | None]:
    result = verify_chain(path, key=key)
    return result.ok, result.first_bad_line, result.problem


def rebuild(path: Path, lines: list[bytes], *, key: bytes | None) -> None:
    """Re-chain the events of ``lines`` from scratch, as a tamperer would."""
    path.unlink()
    path.with_name(path.name + ".checkpoint").unlink()
    with JsonlFileSink(path, key=key) as sink:
        for i in range(len(lines)):
            sink.emit(login(100 + i))


def test_crlf_line_endings_are_malformed_at_the_first_line(chain10):
    lines = read_lines(chain10)
    write_lines(chain10, [line.replace(b"\n", b"\r\n") for line in lines])
    assert problem(chain10) == (False, 1, "malformed")


def test_one_crlf_line_in_the_middle_is_reported_there(chain10):
    lines = read_lines(chain10)
    lines[6] = lines[6].replace(b"\n", b"\r\n")
    write_lines(chain10, lines)
    assert problem(chain10) == (False, 7, "malformed")


@pytest.mark.parametrize("where", [0, 4, 10])
def test_blank_line_inserted_is_malformed_at_its_line(chain10, where: int):
    lines = read_lines(chain10)
    lines.insert(where, b"\n")
    write_lines(chain10, lines)
    assert problem(chain10) == (False, where + 1, "malformed")


@pytest.mark.parametrize("garbage", [b"x", b"\n", b"{}\n", b"\x00", b" ", b"\xff\xfe\n"])
def test_trailing_garbage_is_reported_after_the_last_line(chain10, garbage: bytes):
    with chain10.open("ab") as handle:
        handle.write(garbage)
    assert problem(chain10) == (False, 11, "malformed")


def test_nul_bytes_inside_a_line_are_malformed(chain10):
    lines = read_lines(chain10)
    lines[2] = lines[2][:20] + b"\x00" + lines[2][20:]
    write_lines(chain10, lines)
    assert problem(chain10) == (False, 3, "malformed")


def test_duplicated_last_line_is_detected(chain10):
    lines = read_lines(chain10)
    write_lines(chain10, [*lines, lines[-1]])
    assert problem(chain10) == (False, 11, "prev_mismatch")


def test_line_swapped_in_from_another_trail_under_the_same_key(tmp_path, chain10):
    other = write_chain(tmp_path / "other.jsonl", 10)
    mine, theirs = read_lines(chain10), read_lines(other)
    mine[5] = theirs[5]  # same seq, same alg, valid MAC in its own chain
    write_lines(chain10, mine)
    assert problem(chain10) == (False, 6, "prev_mismatch")


def test_swapping_two_lines_reports_the_first(chain10):
    lines = read_lines(chain10)
    lines[2], lines[7] = lines[7], lines[2]
    write_lines(chain10, lines)
    assert problem(chain10) == (False, 3, "prev_mismatch")


def test_chain_rebuilt_under_another_key_with_its_checkpoint_fails_at_line_1(chain10):
    rebuild(chain10, read_lines(chain10), key=ATTACKER_KEY)
    assert problem(chain10, ATTACKER_KEY)[0]  # it is a valid chain under their key...
    assert problem(chain10) == (False, 1, "mac_mismatch")  # ...but not under ours


def test_chain_rebuilt_unkeyed_with_an_unkeyed_checkpoint_fails_at_line_1(chain10):
    rebuild(chain10, read_lines(chain10), key=None)
    assert problem(chain10) == (False, 1, "unkeyed_line")


def test_cut_tail_with_a_checkpoint_forged_under_another_key_is_caught(chain10):
    lines = read_lines(chain10)
    write_lines(chain10, lines[:6])
    last = audit._chain.parse_line(lines[5])
    assert last is not None
    write_checkpoint(chain10, lines=6, head=last.mac, chain=ChainMac(ATTACKER_KEY))
    assert problem(chain10) == (False, None, "checkpoint_invalid")
    write_checkpoint(chain10, lines=6, head=last.mac, chain=ChainMac(None))
    assert problem(chain10) == (False, None, "checkpoint_invalid")


def test_cut_in_the_middle_of_the_last_line_is_malformed(chain10):
    data = chain10.read_bytes()
    chain10.write_bytes(data[:-40])
    assert problem(chain10) == (False, 10, "malformed")


def test_cut_the_last_newline_only_is_malformed(chain10):
    data = chain10.read_bytes()
    chain10.write_bytes(data[:-1])
    assert problem(chain10) == (False, 10, "malformed")


def test_huge_hostile_line_is_refused_fast(chain10):
    lines = read_lines(chain10)
    lines.insert(3, b'{"a":"' + b"x" * 20_000_000 + b'"}\n')
    write_lines(chain10, lines)
    start = time.perf_counter()
    assert problem(chain10) == (False, 4, "malformed")
    assert time.perf_counter() - start < 5


def test_unkeyed_verify_reports_keyed_needs_key_even_after_a_cut(chain10):
    lines = read_lines(chain10)
    write_lines(chain10, lines[:3])
    with pytest.raises(audit.AuditKeyError):
        verify_chain(chain10)


def test_copied_trail_and_checkpoint_verify_only_as_a_whole(tmp_path, chain10):
    # Moving the whole trail is not tampering; mixing checkpoints is.
    copy = tmp_path / "copy.jsonl"
    shutil.copy(chain10, copy)
    shutil.copy(chain10.with_name("audit.jsonl.checkpoint"), tmp_path / "copy.jsonl.checkpoint")
    assert problem(copy) == (True, None, None)
    other = write_chain(tmp_path / "other.jsonl", 10)
    shutil.copy(other.with_name("other.jsonl.checkpoint"), tmp_path / "copy.jsonl.checkpoint")
    assert problem(copy) == (False, 10, "checkpoint_mismatch")


@pytest.mark.parametrize(
    "key",
    [
        "short text",
        bytearray(b"0123456789abcdef0123"),
        memoryview(b"0123456789abcdef0123"),
        1234567890123456789,
        Secret(b"short"),
        Secret("\ud800" * 16),
        b"",
    ],
)
def test_unusable_keys_raise_the_typed_key_error(tmp_path, key: object):
    with pytest.raises(audit.AuditKeyError) as info:
        JsonlFileSink(tmp_path / "a.jsonl", key=key)  # type: ignore[arg-type]
    assert info.value.code == "audit.bad_key"
    assert "\ud800" not in str(info.value)
    assert not (tmp_path / "a.jsonl").exists() or (tmp_path / "a.jsonl").stat().st_size == 0


def test_verify_of_a_directory_or_missing_file_is_a_typed_file_error(tmp_path):
    for target in (tmp_path, tmp_path / "missing.jsonl"):
        with pytest.raises(audit.AuditFileError) as info:
            verify_chain(target, key=KEY)
        assert info.value.code == "audit.file_error"


def test_text_key_in_a_secret_verifies_like_its_bytes(tmp_path):
    path = write_chain(tmp_path / "a.jsonl", 3, key=b"text-key-0123456789")
    assert verify_chain(path, key=Secret("text-key-0123456789")).ok


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_verifying_an_endless_device_returns_instead_of_hanging():
    start = time.perf_counter()
    result = verify_chain("/dev/zero", key=KEY)
    assert (result.ok, result.first_bad_line, result.problem) == (False, 1, "malformed")
    assert time.perf_counter() - start < 5


def test_an_unkeyed_sink_says_once_that_it_only_catches_accidents(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="meshsec.audit"):
        with JsonlFileSink(tmp_path / "plain.jsonl") as sink:
            sink.emit(login(1))
            sink.emit(login(2))
        with JsonlFileSink(tmp_path / "keyed.jsonl", key=KEY) as sink:
            sink.emit(login(1))
    warnings = [r.getMessage() for r in caplog.records if r.name == "meshsec.audit"]
    assert len(warnings) == 1
    assert "plain.jsonl" in warnings[0]
    assert "only catches accidents" in warnings[0]


_FULL_DISK_SCRIPT = """
import resource, signal, sys
from pathlib import Path
from meshsec import audit
from meshsec.audit import JsonlFileSink, SecurityEvent

path, key = Path(sys.argv[1]), sys.argv[2].encode()
event = SecurityEvent(category="key", action="rotate", outcome="success", attributes={"n": 1})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG / short writes, not a kill
sink = JsonlFileSink(path, key=key)
sink.emit(event)
size = path.stat().st_size
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))  # "disk full" mid-line
failures = 0
for _ in range(3):
    try:
        sink.emit(event)
    except audit.AuditFileError:
        failures += 1
print("failures", failures, "size-unchanged", path.stat().st_size == size)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is free again
sink.emit(event)
sink.close()
"""


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_mid_line_leaves_no_torn_line_and_the_chain_continues(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "full.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_SCRIPT, str(path), KEY.decode()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "failures 3 size-unchanged True" in result.stdout
    report = verify_chain(path, key=KEY)
    assert (report.ok, report.lines) == (True, 2)
