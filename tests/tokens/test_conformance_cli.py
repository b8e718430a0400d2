"""Issue 2's CLI lines, run as a script would: a real process, no terminal, no prompt."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

PASSPHRASE = "correct horse battery staple"
# What the installed ``meshsec`` console script runs.
_ENTRY = "import sys; from meshsec.cli import main; sys.exit(main(sys.argv[1:]))"


def _meshsec(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MESHSEC_KEY_PASSPHRASE"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", _ENTRY, *argv],
        env=environment,
        stdin=subprocess.DEVNULL,  # not a terminal: a prompt here would hang a script
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def minted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("cli")
    key, jwks = tmp / "key.pem", tmp / "jwks.json"
    env = {"MESHSEC_KEY_PASSPHRASE": PASSPHRASE}
    generated = _meshsec("keys", "generate", "--alg", "EdDSA", "--out", str(key), env=env)
    assert generated.returncode == 0, generated.stderr
    published = _meshsec("keys", "jwks", str(key), env=env)
    assert published.returncode == 0, published.stderr
    jwks.write_text(published.stdout)
    minted = _meshsec(
        "token", "mint", "--key", str(key), "--iss", "https://iss", "--sub", "web",
        "--aud", "orders", "--scope", "orders:read", env=env,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    return key, jwks, minted.stdout.strip()


def test_keys_generate_runs_non_interactively(minted: tuple[Path, Path, str]) -> None:
    key, _, _ = minted
    data = key.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in data
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_keys_generate_without_passphrase_fails_fast_not_prompting(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    result = _meshsec("keys", "generate", "--alg", "EdDSA", "--out", str(out))
    assert result.returncode == 2
    assert "MESHSEC_KEY_PASSPHRASE" in result.stderr
    assert not out.exists()


def test_keys_generate_narrows_an_existing_world_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    out.write_text("old")
    out.chmod(0o644)
    result = _meshsec(
        "keys", "generate", "--alg", "ES256", "--out", str(out),
        env={"MESHSEC_KEY_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keys_jwks_prints_public_jwks(minted: tuple[Path, Path, str]) -> None:
    _, jwks, _ = minted
    document = json.loads(jwks.read_text())
    (jwk,) = document["keys"]
    assert jwk["alg"] == "EdDSA"
    assert "d" not in jwk


def test_token_verify_with_jwks_iss_aud(minted: tuple[Path, Path, str]) -> None:
    _, jwks, token = minted
    ok = _meshsec(
        "token", "verify", token, "--jwks", str(jwks), "--iss", "https://iss", "--aud", "orders"
    )
    assert ok.returncode == 0, ok.stderr
    assert "VALID" in ok.stdout
    wrong = _meshsec(
        "token", "verify", token, "--jwks", str(jwks), "--iss", "https://iss", "--aud", "billing"
    )
    assert wrong.returncode == 2
    assert "token.wrong_audience" in wrong.stderr
    assert token not in wrong.stderr + wrong.stdout


def test_token_inspect_is_labelled_unverified(minted: tuple[Path, Path, str]) -> None:
    _, _, token = minted
    result = _meshsec("token", "inspect", token)
    assert result.returncode == 0, result.stderr
    assert "UNVERIFIED" in result.stdout
    body = "\n".join(line for line in result.stdout.splitlines() if not line.startswith("#"))
    decoded = json.loads(body)
    assert decoded["header"]["typ"] == "at+jwt"
    assert decoded["payload"]["sub"] == "web"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES384"])
def test_generated_key_needs_no_alg_flag_later(tmp_path: Path, alg: str) -> None:
    """`meshsec keys jwks FILE` as the issue writes it, for a key `keys generate` made."""
    env = {"MESHSEC_KEY_PASSPHRASE": PASSPHRASE}
    key, jwks = tmp_path / "key.pem", tmp_path / "jwks.json"
    assert _meshsec("keys", "generate", "--alg", alg, "--out", str(key), env=env).returncode == 0
    published = _meshsec("keys", "jwks", str(key), env=env)
    assert published.returncode == 0, published.stderr
    assert [k["alg"] for k in json.loads(published.stdout)["keys"]] == [alg]
    jwks.write_text(published.stdout)
    minted = _meshsec(
        "token", "mint", "--key", str(key), "--iss", "i", "--sub", "s", "--aud", "a", env=env
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == alg
    verified = _meshsec("token", "verify", token, "--jwks", str(jwks), "--iss", "i", "--aud", "a")
    assert verified.returncode == 0, verified.stderr


def test_generated_key_file_loads_with_plain_cryptography(minted: tuple[Path, Path, str]) -> None:
    from cryptography.hazmat.primitives import serialization

    key, _, _ = minted
    loaded = serialization.load_pem_private_key(key.read_bytes(), PASSPHRASE.encode())
    assert loaded.public_key() is not None


def test_generate_into_missing_directory_is_a_clean_error(tmp_path: Path) -> None:
    result = _meshsec(
        "keys", "generate", "--out", str(tmp_path / "missing" / "k.pem"),
        env={"MESHSEC_KEY_PASSPHRASE": PASSPHRASE},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error [config.error]")
    assert "Traceback" not in result.stderr


@given(st.binary(max_size=512))
def test_alg_label_parser_never_raises_and_names_only_known_algs(data: bytes) -> None:
    from meshsec.cli._tokens import _labelled_alg
    from meshsec.tokens import ALGORITHMS

    alg = _labelled_alg(data)
    assert alg is None or alg in ALGORITHMS
    assert _labelled_alg(b"meshsec-alg: PS256\n" + data.replace(b"-----BEGIN", b"")) == "PS256"
