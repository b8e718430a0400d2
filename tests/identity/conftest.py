"""Shared fixtures for the identity tests."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from meshsec.clock import FrozenClock
from meshsec.identity import CertificateAuthority

TD = "example.org"
START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def ca(clock: FrozenClock) -> CertificateAuthority:
    return CertificateAuthority.create(TD, clock=clock)


@pytest.fixture
def events() -> Iterator[list[Any]]:
    """Audit events emitted during the test (skips until meshsec.audit exists)."""
    try:
        audit = importlib.import_module("meshsec.audit")
    except ImportError:
        pytest.skip("meshsec.audit has not landed on this branch yet")
    with audit.capture() as captured:
        yield captured
