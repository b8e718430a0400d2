"""``meshsec audit verify``: exit status 0 verified, 1 tampered, 2 usage/key error."""

from __future__ import annotations

import importlib.util

import pytest

import meshsec.cli
from meshsec.cli import main
from tests.audit.conftest import KEY, read_lines, write_chain, write_lines


@pytest.fixture(autouse=True)
def _only_present_commands(monkeypatch):
    # Other areas' command modules may land later; test this command on its own.
    present = tuple(
        name for name in meshsec.cli._COMMAND_MODULES if importlib.util.find_spec(name) is not None
    )
    monkeypatch.setattr(meshsec.cli, "_COMMAND_MODULES", present)


def test_verify_ok_with_key(tmp_path, capsys):
    path = write_chain(tmp_path / "a.jsonl", 4)
    assert main(["audit", "verify", str(path), "--key", KEY.decode()]) == 0
    out, err = capsys.readouterr()
    assert "OK: 4 lines" in out
    assert "HMAC-SHA256" in out
    assert err == ""


def test_verify_with_key_file_and_env(tmp_path, capsys, monkeypatch):
    path = write_chain(tmp_path / "a.jsonl", 2)
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY + b"\n")
    assert main(["audit", "verify", str(path), "--key-file", str(key_file)]) == 0
    monkeypatch.setenv("MESHSEC_AUDIT_KEY", KEY.decode())
    assert main(["audit", "verify", str(path), "--key-env", "MESHSEC_AUDIT_KEY"]) == 0


def test_verify_reports_first_bad_line_and_exits_1(tmp_path, capsys):
    path = write_chain(tmp_path / "a.jsonl", 5)
    lines = read_lines(path)
    lines[2] = lines[2].replace(b"user-2", b"root")
    write_lines(path, lines)
    assert main(["audit", "verify", str(path), "--key", KEY.decode()]) == 1
    out = capsys.readouterr().out
    assert out.startswith("line 3: ")
    assert "mac_mismatch" in out


def test_verify_truncated_exits_1(tmp_path, capsys):
    path = write_chain(tmp_path / "a.jsonl", 5)
    write_lines(path, read_lines(path)[:3])
    assert main(["audit", "verify", str(path), "--key", KEY.decode()]) == 1
    assert capsys.readouterr().out.startswith("line 4: lines are missing at the end")


def test_verify_missing_checkpoint_exits_1(tmp_path, capsys):
    path = write_chain(tmp_path / "a.jsonl", 2)
    path.with_name("a.jsonl.checkpoint").unlink()
    assert main(["audit", "verify", str(path), "--key", KEY.decode()]) == 1
    assert capsys.readouterr().out.startswith("checkpoint: ")


def test_unkeyed_chain_verifies_with_a_warning(tmp_path, capsys):
    path = write_chain(tmp_path / "a.jsonl", 3, key=None)
    assert main(["audit", "verify", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "OK: 3 lines" in out
    assert "only catches accidents" in err


@pytest.mark.parametrize(
    "args",
    [
        [],  # keyed file, no key
        ["--key", "short"],
        ["--key-env", "MESHSEC_TEST_UNSET_VARIABLE"],
        ["--key-file", "/nonexistent/key"],
    ],
)
def test_key_problems_exit_2(tmp_path, capsys, args):
    path = write_chain(tmp_path / "a.jsonl", 1)
    assert main(["audit", "verify", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error [audit.bad_key]")
    assert "short" not in err.split("]", 1)[1]


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["audit", "verify", str(tmp_path / "nope.jsonl"), "--key", KEY.decode()]) == 2
    assert "error [audit.file_error]" in capsys.readouterr().err


def test_key_options_are_exclusive(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["audit", "verify", "x", "--key", "a", "--key-env", "B"])
    assert info.value.code == 2


def test_verify_accepts_a_key_that_is_not_utf8(tmp_path, monkeypatch, capsys):
    """A key from the environment is taken as the OS's bytes, never a traceback."""
    import os

    from meshsec import audit as audit_module
    from meshsec.cli import main as cli_main
    from meshsec.secret import Secret

    raw = b"\xff\xfe-not-utf8-audit-key-0123456789"
    path = tmp_path / "a.jsonl"
    with audit_module.JsonlFileSink(path, key=Secret(raw)) as sink:
        sink.emit(audit_module.SecurityEvent(category="key", action="rotate", outcome="success"))
    monkeypatch.setenv("MESHSEC_TEST_AUDIT_KEY", os.fsdecode(raw))
    assert cli_main(["audit", "verify", str(path), "--key-env", "MESHSEC_TEST_AUDIT_KEY"]) == 0
    assert "OK: 1 lines" in capsys.readouterr().out
