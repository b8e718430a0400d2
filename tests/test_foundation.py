"""errors, clock and secret: the bottom layer every package builds on."""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime, timedelta

import pytest

import meshsec.clock
import meshsec.errors
import meshsec.secret
from meshsec.clock import FrozenClock, to_datetime
from meshsec.errors import ConfigError, MeshsecError, TokenError
from meshsec.secret import REDACTED, Secret
from tests.api import assert_all_is_public

AREA_BASES = [
    "IdentityError",
    "TLSError",
    "TokenError",
    "FieldError",
    "PolicyError",
    "StoreError",
    "ConfigError",
]


@pytest.mark.parametrize("module", [meshsec.errors, meshsec.clock, meshsec.secret])
def test_all_lists_exactly_the_public_names(module):
    assert_all_is_public(module)


@pytest.mark.parametrize("name", AREA_BASES)
def test_area_bases_are_meshsec_errors_with_distinct_codes(name):
    cls = getattr(meshsec.errors, name)
    assert issubclass(cls, MeshsecError)
    assert cls.code != MeshsecError.code
    assert cls.code.endswith(".error")


def test_codes_are_unique_across_the_hierarchy():
    codes = [getattr(meshsec.errors, n).code for n in AREA_BASES]
    assert len(set(codes)) == len(codes)


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError, match="bad knob"):
        raise ConfigError("bad knob")


def test_error_without_message_uses_its_docstring():
    err = TokenError()
    assert err.message == "A token could not be issued or verified."
    assert "token.error" in repr(err)


def test_frozen_clock_moves_only_when_told():
    clock = FrozenClock(1_000.0)
    assert clock() == 1_000.0
    clock.advance(timedelta(seconds=90))
    clock.advance(10)
    assert clock() == 1_100.0
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    assert to_datetime(clock) == datetime(2030, 1, 1, tzinfo=UTC)


def test_frozen_clock_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2030, 1, 1))


def test_secret_never_shows_itself(caplog):
    secret = Secret("hunter2-very-secret")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret, "")]
    assert all("hunter2" not in s for s in shown)
    assert all(REDACTED in s for s in shown)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("value %s %r", secret, secret)
    assert "hunter2" not in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret.reveal() == "hunter2-very-secret"


def test_secret_in_an_exception_stays_hidden():
    secret = Secret(b"\x00key-material")
    err = MeshsecError(f"could not use {secret}")
    assert "key-material" not in str(err)
    assert "key-material" not in repr(err)


def test_secret_equality_is_by_value_and_type_and_unhashable():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != Secret(b"a")
    assert Secret("a") != "a"
    with pytest.raises(TypeError):
        hash(Secret("a"))


def test_secret_refuses_other_types():
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[type-var]
