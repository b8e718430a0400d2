"""The public surface of meshsec.fields is exactly its __all__."""

from __future__ import annotations

import meshsec.fields
from meshsec.errors import FieldError
from tests.api import assert_all_is_public, assert_raised_errors_exported


def test_all_is_exactly_the_public_names() -> None:
    assert_all_is_public(meshsec.fields)


def test_every_raised_error_is_exported() -> None:
    assert_raised_errors_exported(meshsec.fields)


def test_errors_sit_below_field_error_with_stable_codes() -> None:
    codes = {
        meshsec.fields.DecryptionError: "field.decryption_failed",
        meshsec.fields.KeyUsageExceededError: "field.key_usage_exceeded",
        meshsec.fields.KeyringError: "field.keyring_invalid",
        meshsec.fields.UnsupportedValueError: "field.unsupported_value",
    }
    for error, code in codes.items():
        assert issubclass(error, FieldError)
        assert error.code == code
