"""Issue 3, conformance: DLP ``scan``/``redact``/``DlpLogFilter`` and the ``meshsec fields``
CLI, called exactly as the issue and the docs write them."""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
from pathlib import Path

import attrs
import pytest

from meshsec.cli import main
from meshsec.fields import DlpLogFilter, Finding, FindingKind, redact, scan


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


JWT = ".".join(
    (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
        _b64(json.dumps({"sub": "ada"}).encode()),
        _b64(b"s" * 32),
    )
)
PEM = "\n".join(
    (
        "-----BEGIN " + "PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "-----END PRIVATE KEY-----",
    )
)

POSITIVES = {
    "card with spaces": ("4111 1111 1111 1111", FindingKind.CARD),
    "card with dashes": ("5500-0000-0000-0004", FindingKind.CARD),
    "email": ("ada@example.com", FindingKind.EMAIL),
    "ssn": ("123-45-6789", FindingKind.SSN),
    "iban": ("GB82 WEST 1234 5698 7654 32", FindingKind.IBAN),
    "jwt": (JWT, FindingKind.JWT),
    "pem": (PEM, FindingKind.PRIVATE_KEY),
    "aws": ("AKIAIOSFODNN7EXAMPLE", FindingKind.AWS_ACCESS_KEY_ID),
    "high entropy": ("Zx8Qp2Lm7Rt4Vn9Kw3Hs6Jd1Fg5Bc0Ya", FindingKind.SECRET),
    "fullwidth card": ("\uff14" + "\uff11" * 15, FindingKind.CARD),
    "zero-width card": ("4111\u200b1111\u200b1111\u200b1111", FindingKind.CARD),
    "nbsp card": ("4111\u00a01111\u00a01111\u00a01111", FindingKind.CARD),
    "dotted card": ("4111.1111.1111.1111", FindingKind.CARD),
    "slashed card": ("4111/1111/1111/1111", FindingKind.CARD),
}


@pytest.mark.parametrize("name", sorted(POSITIVES))
def test_every_listed_kind_is_found_in_strings_and_nested_structures(name: str) -> None:
    value, kind = POSITIVES[name]
    assert scan(value) == [Finding("$", kind)]
    findings = scan({"a": [{"b": f"note: {value} end"}]})
    assert findings == [Finding("a[0].b", kind)]


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "GB82WEST12345698765433",  # fails mod-97
        "000-12-3456",  # never-issued SSN area
        "order 12345, total 99.50",
        "hello world",
    ],
)
def test_non_findings(value: str) -> None:
    assert scan(value) == []


def test_findings_carry_path_and_kind_never_the_value() -> None:
    assert [a.name for a in attrs.fields(Finding)] == ["path", "kind"]
    findings = scan({"user": {"email": "ada@example.com"}})
    assert isinstance(findings, list)
    assert findings[0].path == "user.email"
    assert findings[0].kind == "email"
    assert "ada@example.com" not in repr(findings)


def test_redact_returns_a_masked_copy() -> None:
    doc = {"user": {"email": "ada@example.com", "cards": ["4111-1111-1111-1111"]}, "n": 3}
    before = copy.deepcopy(doc)
    out = redact(doc)
    assert doc == before
    assert "ada@example.com" not in json.dumps(out)
    assert "4111" not in json.dumps(out)
    assert out["n"] == 3
    assert scan(out) == []


def test_dlp_log_filter_redacts_messages_and_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(DlpLogFilter())
    logger = logging.getLogger("tests.fields.conformance.dlp")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("card %s for %s", "4111 1111 1111 1111", "ada@example.com")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "4111" not in text
    assert "ada@example.com" not in text
    assert "card" in text


def test_a_secret_below_the_depth_bound_is_reported_not_passed() -> None:
    deep: object = "AKIAIOSFODNN7EXAMPLE"
    for _ in range(101):
        deep = [deep]
    deep = {"payload": deep}
    findings = scan(deep)
    assert findings
    assert {f.kind for f in findings} <= {FindingKind.TOO_DEEP, FindingKind.AWS_ACCESS_KEY_ID}
    assert all(f.path.startswith("payload[0]") for f in findings)
    assert "AKIA" not in json.dumps(redact(deep))


# -- meshsec fields CLI ---------------------------------------------------------------------


def test_cli_keygen_keyring_and_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["fields", "keygen"]) == 0
    master = capsys.readouterr().out.strip()
    key_file = tmp_path / "master.key"
    key_file.write_text(master)
    assert main(["fields", "keyring", "--master-key-file", str(key_file), "--name", "crm"]) == 0
    assert json.loads(capsys.readouterr().out)["primary"] == "crm-v1"
    monkeypatch.setenv("CONFORMANCE_MASTER", master)
    assert main(["fields", "keyring", "--master-key-env", "CONFORMANCE_MASTER"]) == 0
    assert master not in capsys.readouterr().out


def test_cli_scan_reports_too_deep_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "deep.json"
    doc.write_text("[" * 150 + '"ada@example.com"' + "]" * 150)
    assert main(["fields", "scan", str(doc)]) == 1
    out = capsys.readouterr().out
    assert out.strip().endswith("\ttoo_deep")
    assert "ada@example.com" not in out


# -- found while checking: assignments hid secrets ------------------------------------------

_RANDOM = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "line",
    [
        f"AWS_SECRET_ACCESS_KEY={_RANDOM}",  # env file: the label's word follows name parts
        f"aws_secret_access_key = {_RANDOM}",
        "DB_PASSWORD=hunter2hunter2",
        "MYSQL_ROOT_PASSWORD: s3cr3tpass",
        "csrfToken=abcdef123",
        "github_token=abcdef123456",
        f"x={_RANDOM}",  # a high-entropy value right after '=' used to start no candidate
        f"?sig={_RANDOM}&v=1",
    ],
)
def test_secret_hidden_behind_an_assignment_is_found(line: str) -> None:
    assert [f.kind for f in scan(line)] == [FindingKind.SECRET]
    assert "hunter2" not in str(redact(line))
    assert _RANDOM not in str(redact(line))


@pytest.mark.parametrize(
    "line",
    ["passwordless=true", "token_type=bearer", "max_tokens=1000", "public_key=abcdefgh",
     "Tokenization=enabled", "secretary=jane doe", "password: ********"],
)  # fmt: skip
def test_assignment_lookalikes_are_not_secrets(line: str) -> None:
    assert scan(line) == []
