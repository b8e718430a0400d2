"""The public surface of meshsec.identity is exactly its __all__."""

from __future__ import annotations

import meshsec.identity
from meshsec.errors import IdentityError
from tests.api import assert_all_is_public, assert_raised_errors_exported


def test_all_is_public() -> None:
    assert_all_is_public(meshsec.identity)


def test_raised_errors_are_exported() -> None:
    assert_raised_errors_exported(meshsec.identity)


def test_error_codes_are_stable_and_distinct() -> None:
    values = [getattr(meshsec.identity, name) for name in meshsec.identity.__all__]
    errors = [v for v in values if isinstance(v, type) and issubclass(v, IdentityError)]
    assert len(errors) >= 10
    codes = [cls.code for cls in errors]
    assert len(codes) == len(set(codes))
    assert all(code.startswith("identity.") for code in codes)
