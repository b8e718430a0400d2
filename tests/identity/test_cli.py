"""``meshsec ca init``, ``meshsec ca issue``, ``meshsec identity inspect``."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

import meshsec.cli
from meshsec.cli._identity import parse_duration
from meshsec.errors import ConfigError
from meshsec.identity import CertificateAuthority, TrustBundle, WorkloadIdentity

from . import certs

SID = "spiffe://example.org/ns/prod/sa/orders"


@pytest.fixture(autouse=True)
def only_identity_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other areas' command modules land on other branches; test ours alone.
    monkeypatch.setattr(meshsec.cli, "_COMMAND_MODULES", ("meshsec.cli._identity",))


@pytest.fixture
def pw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CA_PW", "ca secret phrase")
    monkeypatch.setenv("KEY_PW", "key secret phrase")


def _init(tmp_path: Path, *extra: str) -> int:
    return meshsec.cli.main(
        ["ca", "init", "--trust-domain", "example.org", "--out", str(tmp_path / "ca"),
         "--passphrase-env", "CA_PW", *extra]
    )  # fmt: skip


def _issue(tmp_path: Path, *extra: str) -> int:
    return meshsec.cli.main(
        ["ca", "issue", SID, "--ttl", "1h", "--ca", str(tmp_path / "ca"),
         "--out", str(tmp_path / "svid"), "--passphrase-env", "CA_PW",
         "--key-passphrase-env", "KEY_PW", *extra]
    )  # fmt: skip


def test_init_then_issue_then_inspect(
    tmp_path: Path, pw: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path) == 0
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode) == 0o600
    ca = CertificateAuthority.load(tmp_path / "ca", passphrase="ca secret phrase")
    assert ca.trust_domain == "example.org"

    assert _issue(tmp_path, "--dns", "localhost") == 0
    svid_dir = tmp_path / "svid"
    identity = WorkloadIdentity.load(
        svid_dir / "svid.pem", svid_dir / "svid.key", passphrase="key secret phrase"
    )
    assert str(identity.spiffe_id) == SID
    assert identity.dns_names == ("localhost",)
    assert identity.not_after - identity.not_before == timedelta(hours=1, minutes=1)
    assert TrustBundle.load(svid_dir / "bundle.pem") == ca.bundle
    assert (svid_dir / "svid.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED")

    capsys.readouterr()
    assert meshsec.cli.main(["identity", "inspect", str(svid_dir / "svid.pem")]) == 0
    out = capsys.readouterr().out
    assert SID in out
    assert identity.fingerprint_sha256 in out
    assert "ec-p256" in out
    assert "(valid)" in out
    assert "secret phrase" not in out


def test_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = CertificateAuthority.create("example.org")
    ca.issue(SID).save(tmp_path / "s.pem", tmp_path / "s.key", passphrase="x")
    assert meshsec.cli.main(["identity", "inspect", "--json", str(tmp_path / "s.pem")]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert info["spiffe_id"] == SID
    assert info["issuer"] == ca.certificate.subject.rfc4514_string()
    assert info["is_ca"] is False


def test_inspect_flags_a_leaf_without_spiffe_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = CertificateAuthority.create("example.org")
    cert, key = certs.leaf_without_uri_san(ca)
    cert_path, _ = certs.write_pem(tmp_path, "bad", cert, key)
    assert meshsec.cli.main(["identity", "inspect", str(cert_path)]) == 1
    assert "exactly one URI SAN" in capsys.readouterr().out


def test_inspect_reports_expired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = CertificateAuthority.create("example.org")
    cert, key = certs.expired_leaf(ca, SID)
    cert_path, _ = certs.write_pem(tmp_path, "old", cert, key)
    assert meshsec.cli.main(["identity", "inspect", str(cert_path)]) == 0
    assert "(expired)" in capsys.readouterr().out


def test_inspect_garbage_is_a_typed_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.pem").write_text("hello")
    assert meshsec.cli.main(["identity", "inspect", str(tmp_path / "x.pem")]) == 2
    assert "error [identity.invalid_certificate]" in capsys.readouterr().err
    assert meshsec.cli.main(["identity", "inspect", str(tmp_path / "missing.pem")]) == 2


def test_wrong_ca_passphrase_exits_2(
    tmp_path: Path, pw: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path) == 0
    monkeypatch.setenv("CA_PW", "wrong")
    assert _issue(tmp_path) == 2
    err = capsys.readouterr().err
    assert "error [identity.invalid_passphrase]" in err
    assert "wrong" not in err
    assert not (tmp_path / "svid").exists()


def test_missing_passphrase_env_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CA_PW", raising=False)
    assert _init(tmp_path) == 2
    assert "identity.invalid_passphrase" in capsys.readouterr().err
    assert not (tmp_path / "ca" / "ca.key").exists()


def test_no_terminal_and_no_passphrase_source_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = meshsec.cli.main(
        ["ca", "init", "--trust-domain", "example.org", "--out", str(tmp_path / "ca")]
    )
    assert code == 2
    assert "config.error" in capsys.readouterr().err


def test_passphrase_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from a file\n")
    code = meshsec.cli.main(
        ["ca", "init", "--trust-domain", "example.org", "--out", str(tmp_path / "ca"),
         "--passphrase-file", str(tmp_path / "pw")]
    )  # fmt: skip
    assert code == 0
    CertificateAuthority.load(tmp_path / "ca", passphrase="from a file")


def test_passphrase_is_not_accepted_on_argv(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        meshsec.cli.main(
            ["ca", "init", "--trust-domain", "example.org", "--out", str(tmp_path),
             "--passphrase", "hunter2"]
        )  # fmt: skip


def test_init_refuses_to_overwrite(tmp_path: Path, pw: None) -> None:
    assert _init(tmp_path) == 0
    first = (tmp_path / "ca" / "ca.pem").read_bytes()
    assert _init(tmp_path) == 2
    assert (tmp_path / "ca" / "ca.pem").read_bytes() == first
    assert _init(tmp_path, "--force") == 0
    assert (tmp_path / "ca" / "ca.pem").read_bytes() != first


def test_issue_refuses_foreign_ids_and_long_ttls(
    tmp_path: Path, pw: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path, "--ttl", "2d") == 0
    code = meshsec.cli.main(
        ["ca", "issue", "spiffe://evil.example/x", "--ca", str(tmp_path / "ca"),
         "--out", str(tmp_path / "svid"), "--passphrase-env", "CA_PW",
         "--key-passphrase-env", "KEY_PW"]
    )  # fmt: skip
    assert code == 2
    assert "identity.trust_domain_mismatch" in capsys.readouterr().err
    assert _issue(tmp_path, "--ttl", "3d") == 2
    assert "identity.invalid_ttl" in capsys.readouterr().err


def test_issue_refuses_to_overwrite(tmp_path: Path, pw: None) -> None:
    assert _init(tmp_path) == 0
    assert _issue(tmp_path) == 0
    assert _issue(tmp_path) == 2
    assert _issue(tmp_path, "--force") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("1h30m", timedelta(minutes=90)), ("7d", timedelta(days=7))],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "-1h", "0s", "1h ", "1.5h"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_inspect_escapes_terminal_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A hostile certificate name must not reach the terminal as an escape sequence.
    from datetime import UTC, datetime

    from cryptography import x509 as _x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = _x509.Name([_x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b[2Jcleared")])
    now = datetime.now(UTC)
    cert = (
        _x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, _ = certs.write_pem(tmp_path, "evil", cert, key)
    meshsec.cli.main(["identity", "inspect", str(cert_path)])
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\\x1b" in out
