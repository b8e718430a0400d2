"""``meshsec keys`` and ``meshsec token`` end to end through meshsec.cli.main."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from meshsec.cli import main


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHSEC_KEY_PASSPHRASE", "correct horse battery")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _mint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alg: str = "EdDSA"
) -> tuple[str, Path]:
    key = tmp_path / "key.pem"
    assert _run(capsys, "keys", "generate", "--alg", alg, "--out", str(key))[0] == 0
    status, jwks, _ = _run(capsys, "keys", "jwks", str(key))
    assert status == 0
    (tmp_path / "jwks.json").write_text(jwks)
    status, token, _ = _run(
        capsys, "token", "mint", "--key", str(key), "--iss", "https://iss", "--sub", "web",
        "--aud", "orders", "--scope", "read",
    )  # fmt: skip
    assert status == 0
    return token.strip(), tmp_path / "jwks.json"


def test_generate_writes_encrypted_key_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.pem"
    status, out, _ = _run(capsys, "keys", "generate", "--out", str(key))
    assert status == 0
    assert "kid" in out
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert key.stat().st_mode & 0o077 == 0


def test_jwks_prints_public_keys_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, jwks = _mint(tmp_path, capsys, "ES256")
    document = json.loads(jwks.read_text())
    assert [k["alg"] for k in document["keys"]] == ["ES256"]
    assert "d" not in document["keys"][0]


def test_mint_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token, jwks = _mint(tmp_path, capsys)
    status, out, _ = _run(
        capsys, "token", "verify", token, "--jwks", str(jwks), "--iss", "https://iss",
        "--aud", "orders", "--scope", "read",
    )  # fmt: skip
    assert status == 0
    assert out.startswith("VALID")
    assert json.loads(out.split("\n", 1)[1])["sub"] == "web"


def test_verify_failure_prints_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token, jwks = _mint(tmp_path, capsys)
    status, _, err = _run(
        capsys,
        "token",
        "verify",
        token,
        "--jwks",
        str(jwks),
        "--iss",
        "https://iss",
        "--aud",
        "else",
    )
    assert status == 2
    assert "error [token.wrong_audience]" in err
    assert token not in err


def test_inspect_is_labelled_unverified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = _mint(tmp_path, capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    status, out, _ = _run(capsys, "token", "inspect", "-")
    assert status == 0
    assert out.startswith("# UNVERIFIED")
    assert '"typ": "at+jwt"' in out


def test_inspect_malformed_token(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "token", "inspect", "not-a-token")
    assert status == 2
    assert "token.malformed" in err


def test_missing_passphrase_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MESHSEC_KEY_PASSPHRASE")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, _, err = _run(capsys, "keys", "generate", "--out", str(tmp_path / "k.pem"))
    assert status == 2
    assert "MESHSEC_KEY_PASSPHRASE" in err
    assert not (tmp_path / "k.pem").exists()


def test_wrong_passphrase_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "key.pem"
    _run(capsys, "keys", "generate", "--out", str(key))
    monkeypatch.setenv("MESHSEC_KEY_PASSPHRASE", "wrong guess")
    status, _, err = _run(capsys, "keys", "jwks", str(key))
    assert status == 2
    assert "token.invalid_key" in err
    assert "wrong guess" not in err
