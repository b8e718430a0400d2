"""Red-team attacks on ``meshsec ca`` / ``meshsec identity``: durations and hostile certificates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed448
from cryptography.x509.oid import NameOID

import meshsec.cli
from meshsec.cli._identity import parse_duration
from meshsec.errors import ConfigError


@pytest.fixture(autouse=True)
def only_identity_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meshsec.cli, "_COMMAND_MODULES", ("meshsec.cli._identity",))


@pytest.mark.parametrize(
    "text",
    [
        "99999999999d",  # overflowed timedelta (OverflowError, not a ValueError)
        "999999999d1d",
        "\u0663h",  # ARABIC-INDIC DIGIT THREE: \d would accept it
        "\uff11h",  # FULLWIDTH DIGIT ONE
        "1h ",
        " 1h",
        "1H",
        "1.5h",
        "-1h",
        "0s",
        "h",
        "",
    ],
)
def test_bad_durations_raise_config_error(text):
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_huge_ttl_on_the_command_line_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        meshsec.cli.main(
            ["ca", "init", "--trust-domain", "example.org", "--out", str(tmp_path / "ca"),
             "--ttl", "99999999999d", "--passphrase-env", "NOPE"]
        )  # fmt: skip
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def _self_signed(tmp_path: Path, name: str, key, algorithm) -> Path:
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "\x1b[31mred\x1b]0;pwn\x07")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("spiffe://e.org/\x1b[2J")]),
            critical=False,
        )
        .sign(key, algorithm)
    )
    path = tmp_path / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.parametrize(
    ("name", "make", "algorithm"),
    [
        ("ed448", ed448.Ed448PrivateKey.generate, None),
        ("dsa", lambda: dsa.generate_private_key(2048), hashes.SHA256()),
    ],
)
def test_inspect_names_unusual_keys_honestly_and_never_crashes(
    tmp_path, capsys, name, make, algorithm
):
    path = _self_signed(tmp_path, name, make(), algorithm)
    status = meshsec.cli.main(["identity", "inspect", str(path)])
    out = capsys.readouterr().out
    assert status in {0, 1}
    assert "key type:    other" in out
    assert "rsa" not in out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert meshsec.cli.main(["identity", "inspect", "--json", str(path)]) in {0, 1}
    described = json.loads(capsys.readouterr().out)
    assert described[0]["key_type"] == "other"


def test_inspect_of_garbage_is_a_typed_error(tmp_path, capsys):
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert meshsec.cli.main(["identity", "inspect", str(path)]) == 2
    assert "error [identity.invalid_certificate]" in capsys.readouterr().err
