"""``meshsec policy`` check / test / explain / sign."""

from __future__ import annotations

import argparse
import json

import pytest

from meshsec.cli import _policy
from meshsec.errors import MeshsecError
from meshsec.policy import PolicySet
from meshsec.tokens import KeySet, SigningKey

from .helpers import rule

POLICY = {
    "version": 1,
    "rules": [
        rule("read-docs", actions=["read"], resources=["doc:*"]),
        rule("no-secret", "deny", resources=["doc:secret"]),
    ],
}


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="meshsec")
    _policy.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return path


def test_check(policy_file, capsys) -> None:
    assert run("policy", "check", str(policy_file)) == 0
    out = capsys.readouterr().out
    assert "2 rules" in out
    assert PolicySet.from_dict(POLICY).version_id in out


def test_check_invalid_raises_typed_error(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 1, "rules": [rule("a"), rule("a")]}))
    with pytest.raises(MeshsecError) as info:
        run("policy", "check", str(path))
    assert info.value.code == "policy.invalid"


def test_test_passes_and_fails_with_a_diff(policy_file, tmp_path, capsys) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: reader reads\n"
        "    request: {subject: alice, action: read, resource: 'doc:1'}\n"
        "    expect: allow\n"
        "  - name: secret denied by rule\n"
        "    request: {subject: alice, action: read, resource: 'doc:secret'}\n"
        "    expect: {effect: deny, rule_id: no-secret}\n"
    )
    assert run("policy", "test", str(policy_file), str(cases)) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    cases.write_text(
        "cases:\n"
        "  - name: wrongly expected\n"
        "    request: {subject: alice, action: write, resource: 'doc:1'}\n"
        "    expect: allow\n"
    )
    assert run("policy", "test", str(policy_file), str(cases)) == 1
    out = capsys.readouterr().out
    assert "FAIL wrongly expected" in out
    assert "- expected effect: allow" in out
    assert "+ actual   effect: deny" in out


def test_explain(policy_file, tmp_path, capsys) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"subject": "alice", "action": "read", "resource": "doc:secret"}))
    assert run("policy", "explain", str(policy_file), str(request)) == 0
    out = capsys.readouterr().out
    assert "DENY" in out
    assert "[MATCH] no-secret" in out


def test_sign_then_check_bundle(policy_file, tmp_path, monkeypatch, capsys) -> None:
    key = SigningKey.generate()
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.to_pem(passphrase="correct horse"))
    monkeypatch.setenv("POLICY_KEY_PASSPHRASE", "correct horse")
    bundle = tmp_path / "bundle.json"
    assert (
        run(
            "policy",
            "sign",
            str(policy_file),
            "--key",
            str(key_file),
            "--passphrase-env",
            "POLICY_KEY_PASSPHRASE",
            "-o",
            str(bundle),
        )
        == 0
    )
    assert "correct horse" not in bundle.read_text()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([key.public()]).to_jwks()))
    assert run("policy", "check", str(bundle), "--keys", str(jwks)) == 0
    other = tmp_path / "other.json"
    other.write_text(json.dumps(KeySet.generate().to_jwks()))
    with pytest.raises(MeshsecError) as info:
        run("policy", "check", str(bundle), "--keys", str(other))
    assert info.value.code == "policy.bad_bundle"


def test_sign_missing_passphrase_variable(policy_file, tmp_path) -> None:
    with pytest.raises(MeshsecError):
        run(
            "policy",
            "sign",
            str(policy_file),
            "--key",
            str(tmp_path / "k.pem"),
            "--passphrase-env",
            "NOT_SET_ANYWHERE_42",
        )


@pytest.mark.parametrize(
    "cases",
    [
        "cases: []\n",
        "nothing: 1\n",
        "cases:\n  - 5\n",
        "cases:\n  - {request: {action: read}, expect: maybe}\n",
        "cases:\n  - {request: {verb: read}, expect: allow}\n",
        "cases:\n  - {request: {action: read, extra: 1}, expect: allow}\n",
    ],
)
def test_malformed_case_tables_rejected(policy_file, tmp_path, cases) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(cases)
    with pytest.raises(MeshsecError):
        run("policy", "test", str(policy_file), str(path))


def test_check_bundle_with_unreadable_keys(policy_file, tmp_path) -> None:
    with pytest.raises(MeshsecError):
        run("policy", "check", str(policy_file), "--keys", str(tmp_path / "missing.json"))
