"""``meshsec fields`` commands."""

from __future__ import annotations

import json

import pytest

from meshsec.cli import main
from meshsec.fields import FieldCipher, Keyring, LocalKeyProvider


def test_keygen_then_keyring_then_use(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["fields", "keygen"]) == 0
    master = capsys.readouterr().out.strip()
    assert master.startswith("msk1:")
    monkeypatch.setenv("MESHSEC_TEST_MASTER", master)
    assert (
        main(["fields", "keyring", "--master-key-env", "MESHSEC_TEST_MASTER", "--name", "crm"]) == 0
    )
    wrapped = capsys.readouterr().out
    keyring = Keyring.from_wrapped(wrapped, LocalKeyProvider(master))
    assert keyring.primary_id == "crm-v1"
    assert master[5:] not in wrapped
    box = FieldCipher(keyring).encrypt("x", field="f", context={})
    assert FieldCipher(keyring).decrypt(box, field="f", context={}) == "x"


def test_scan_lists_paths_and_kinds_only(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"a": [{"card": "4111 1111 1111 1111"}], "ok": "fine"}))
    assert main(["fields", "scan", str(doc)]) == 1
    out = capsys.readouterr().out
    assert out == "a[0].card\tcard\n"
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing to see")
    assert main(["fields", "scan", str(clean)]) == 0


def test_scan_unreadable_file_is_a_typed_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["fields", "scan", str(tmp_path / "absent.json")]) == 2
    assert "error [config.error]" in capsys.readouterr().err


def test_keyring_without_master_key_fails_typed(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MESHSEC_TEST_NOPE", raising=False)
    assert main(["fields", "keyring", "--master-key-env", "MESHSEC_TEST_NOPE"]) == 2
    assert "MESHSEC_TEST_NOPE" in capsys.readouterr().err


def test_scan_of_json_nested_beyond_the_parser_scans_it_as_text(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + '"card 4111 1111 1111 1111"' + "]" * 100_000)
    assert main(["fields", "scan", str(deep)]) == 1
    out = capsys.readouterr().out
    assert "card" in out
    assert "4111" not in out
