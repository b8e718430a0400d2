"""Red team: ``meshsec policy test`` must not pass a case that checks nothing."""

from __future__ import annotations

import argparse
import json

import pytest

from meshsec.cli import _policy
from meshsec.policy import PolicyConfigError

from .helpers import rule


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="meshsec")
    _policy.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"version": 1, "rules": [rule("deny-all", "deny")]}))
    return path


@pytest.mark.parametrize("expect", [{}, None, [], "permit", {"effect": "allow", "why": 1}])
def test_case_without_a_real_expectation_is_an_error(tmp_path, policy_file, expect) -> None:
    cases = tmp_path / "cases.json"
    case = {"name": "c", "request": {"action": "read"}, "expect": expect}
    cases.write_text(json.dumps({"cases": [case]}))
    with pytest.raises(PolicyConfigError, match="expect"):
        run("policy", "test", str(policy_file), str(cases))


@pytest.mark.parametrize(
    "request_doc",
    [
        {"subject": ["x"], "action": "read"},
        {"subject": {"principal": 5}, "action": "read"},
        {"action": "read", "resource": "http:/%2fadmin"},
        {"action": "read", "context": [1, 2]},
        {"action": ["read"]},
    ],
)
def test_hostile_request_files_are_explained_as_denials(tmp_path, policy_file, request_doc, capsys):
    request = tmp_path / "request.json"
    request.write_text(json.dumps(request_doc))
    assert run("policy", "explain", str(policy_file), str(request)) == 0
    assert capsys.readouterr().out.startswith("decision: DENY")
