"""The public surface of meshsec.tokens."""

from __future__ import annotations

import meshsec.tokens
from meshsec.errors import TokenError
from tests.api import assert_all_is_public, assert_raised_errors_exported


def test_all_is_public() -> None:
    assert_all_is_public(meshsec.tokens)


def test_raised_errors_exported() -> None:
    assert_raised_errors_exported(meshsec.tokens)


def test_error_codes_are_stable_and_unique() -> None:
    errors = [
        value
        for value in vars(meshsec.tokens).values()
        if isinstance(value, type) and issubclass(value, TokenError)
    ]
    codes = [error.code for error in errors]
    assert len(codes) == len(set(codes))
    assert all(code.startswith("token.") for code in codes)
    expected = {
        "token.expired",
        "token.not_yet_valid",
        "token.bad_signature",
        "token.wrong_audience",
        "token.wrong_issuer",
        "token.wrong_type",
        "token.malformed",
        "token.too_large",
        "token.unknown_key",
        "token.algorithm_not_allowed",
        "token.forbidden_header",
        "token.missing_claim",
        "token.insufficient_scope",
        "token.binding_mismatch",
        "token.revoked",
        "token.replayed",
        "token.scope_escalation",
    }
    assert expected <= set(codes)
